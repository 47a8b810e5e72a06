"""Every provider's end reason maps into the documented set."""

from __future__ import annotations

import pytest

from services.worker.enrich.end_reason import END_REASONS, normalise_end_reason
from tests.helpers import FIXTURES


@pytest.mark.parametrize(
    ("raw", "channel", "expected"),
    [
        (None, "phone", "completed"),
        ("", "web_chat", "visitor_ended"),
        ("customer-ended-call", "phone", "caller_hung_up"),
        ("assistant-said-end-call-phrase", "phone", "agent_hung_up"),
        ("assistant-forwarded-call", "phone", "transferred"),
        ("silence-timed-out", "phone", "timeout"),
        ("customer-busy", "phone", "busy"),
        ("pipeline-error-openai-llm-failed", "phone", "error"),
        ("user_hangup", "phone", "caller_hung_up"),
        ("agent_hangup", "phone", "agent_hung_up"),
        ("call_transfer", "phone", "transferred"),
        ("voicemail_reached", "phone", "voicemail"),
        ("dial_no_answer", "phone", "no_answer"),
        ("inactivity", "phone", "timeout"),
        ("error_llm_websocket_lost_connection", "phone", "error"),
        ("end_call tool was called.", "phone", "agent_hung_up"),
        ("Call ended by remote party", "phone", "caller_hung_up"),
        ("visitor_ended", "web_chat", "visitor_ended"),
        ("marked_as_spam", "phone", "other"),
    ],
)
def test_normalise_end_reason(raw: str | None, channel: str, expected: str) -> None:
    assert normalise_end_reason(raw, channel) == expected


@pytest.mark.parametrize("listing", ["vapi-ended-reasons.txt", "retell-disconnection-reasons.txt"])
def test_every_documented_provider_value_lands_in_the_set(listing: str) -> None:
    lines = (FIXTURES / listing).read_text().splitlines()
    values = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert len(values) > 20
    results = {value: normalise_end_reason(value, "phone") for value in values}
    assert set(results.values()) <= set(END_REASONS)
    # Most values say something specific; "other" is the exception, not the rule.
    assert sum(r == "other" for r in results.values()) < len(values) / 4
