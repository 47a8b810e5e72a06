"""Normalise every provider's end reason to one small documented set (docs/worker.md)."""

from __future__ import annotations

from typing import Literal

EndReason = Literal[
    "completed",
    "caller_hung_up",
    "agent_hung_up",
    "visitor_ended",
    "transferred",
    "voicemail",
    "no_answer",
    "busy",
    "timeout",
    "error",
    "other",
]
END_REASONS: tuple[str, ...] = EndReason.__args__  # type: ignore[attr-defined]

# Exact values (lower-cased) from Vapi endedReason, Retell disconnection_reason, ElevenLabs
# termination_reason and our native formats; anything else falls through to keyword rules.
_EXACT: dict[str, str] = {
    "customer-ended-call": "caller_hung_up",
    "user_hangup": "caller_hung_up",
    "caller_hung_up": "caller_hung_up",
    "assistant-ended-call": "agent_hung_up",
    "assistant-said-end-call-phrase": "agent_hung_up",
    "assistant-ended-call-with-hangup-task": "agent_hung_up",
    "assistant-ended-call-after-message-spoken": "agent_hung_up",
    "agent_hangup": "agent_hung_up",
    "agent_hung_up": "agent_hung_up",
    "end_call tool was called.": "agent_hung_up",
    "assistant-forwarded-call": "transferred",
    "call_transfer": "transferred",
    "transfer_bridged": "transferred",
    "voicemail": "voicemail",
    "voicemail_reached": "voicemail",
    "customer-did-not-answer": "no_answer",
    "dial_no_answer": "no_answer",
    "customer-busy": "busy",
    "dial_busy": "busy",
    "silence-timed-out": "timeout",
    "exceeded-max-duration": "timeout",
    "inactivity": "timeout",
    "max_duration_reached": "timeout",
    "registered_call_timeout": "timeout",
    "visitor_ended": "visitor_ended",
    "visitor_left": "visitor_ended",
    "completed": "completed",
    "ivr_reached": "voicemail",  # a machine answered, not a person
    "user_declined": "no_answer",
    "transfer_cancelled": "caller_hung_up",
    "concurrency_limit_reached": "error",
    "no_valid_payment": "error",
    "invalid_destination": "error",
    "telephony_provider_permission_denied": "error",
    "telephony_provider_unavailable": "error",
    "call ended by remote party": "caller_hung_up",
    "client disconnected": "caller_hung_up",
}

# Ordered keyword rules for the long tails (Vapi alone has hundreds of pipeline-error values).
_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("voicemail", "voicemail"),
    ("transfer", "transferred"),
    ("forward", "transferred"),
    ("busy", "busy"),
    ("no-answer", "no_answer"),
    ("no_answer", "no_answer"),
    ("did-not-answer", "no_answer"),
    ("timed-out", "timeout"),
    ("timeout", "timeout"),
    ("max-duration", "timeout"),
    ("max_duration", "timeout"),
    ("error", "error"),
    ("failed", "error"),
    ("fault", "error"),
    ("customer-ended", "caller_hung_up"),
    ("caller", "caller_hung_up"),
    ("hangup", "caller_hung_up"),
    ("hung up", "caller_hung_up"),
    ("completed", "completed"),
)


def normalise_end_reason(raw: str | None, channel: str) -> str:
    """One of END_REASONS; no raw value means the conversation simply finished."""
    if raw is None or not raw.strip():
        return "visitor_ended" if channel == "web_chat" else "completed"
    value = raw.strip().lower()
    exact = _EXACT.get(value)
    if exact is not None:
        return exact
    for needle, reason in _KEYWORDS:
        if needle in value:
            return reason
    return "other"
