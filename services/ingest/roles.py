"""Transcript role normalisation: every source's words for speaker map onto agent | caller | visitor."""

from __future__ import annotations

from shared.models import Role

# Words for our side of the conversation (the AI receptionist).
AGENT_ROLES = frozenset({"agent", "assistant", "bot", "ai"})
# Words for the other side; it becomes `caller` on calls and `visitor` on web chats. Retell's
# transfer_target is the human a call was handed to: still not our agent.
HUMAN_ROLES = frozenset({"caller", "user", "customer", "human", "visitor", "transfer_target"})
# Turns that are not speech: prompts, tool invocations and results. They are dropped.
SILENT_ROLES = frozenset({"system", "tool", "tool_calls", "tool_call_result", "tool_call_invocation"})


def normalise_role(raw: str, human: Role = "caller") -> Role | None:
    """The canonical role for a provider's role word; None for non-speech or unknown turns."""
    word = raw.strip().lower()
    if word in AGENT_ROLES:
        return "agent"
    if word in HUMAN_ROLES:
        return human
    return None
