from __future__ import annotations

import pytest

from services.ingest.roles import normalise_role


@pytest.mark.parametrize("raw", ["agent", "assistant", "bot", "AI", " Agent "])
def test_our_side_is_agent(raw: str) -> None:
    assert normalise_role(raw) == "agent"


@pytest.mark.parametrize("raw", ["user", "caller", "customer", "transfer_target"])
def test_other_side_is_caller_or_visitor(raw: str) -> None:
    assert normalise_role(raw) == "caller"
    assert normalise_role(raw, "visitor") == "visitor"


@pytest.mark.parametrize("raw", ["system", "tool_calls", "tool_call_result", "dtmf", "node_transition"])
def test_non_speech_turns_are_dropped(raw: str) -> None:
    assert normalise_role(raw) is None
