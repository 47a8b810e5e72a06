"""The local summarizer: deterministic one- or two-sentence summaries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from services.worker.enrich.summarize import LocalSummarizer, Summarizer
from shared.models import FinishedConversation, Turn
from tests.worker.enrich import samples

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _conversation(caller: list[str], agent: list[str] = (), channel: str = "phone") -> FinishedConversation:  # type: ignore[assignment]
    role = "visitor" if channel == "web_chat" else "caller"
    turns = [Turn(role=role, content=c, elapsed_s=float(i), raw_role="user") for i, c in enumerate(caller)]
    turns += [Turn(role="agent", content=a, elapsed_s=50.0, raw_role="bot") for a in agent]
    return FinishedConversation(
        source="web_chat" if channel == "web_chat" else "phone", provider_call_id="c", channel=channel,
        event_type="x", event_rank=1, event_at=T0, started_at=T0, ended_at=T0, transcript=turns,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("caller", "agent", "channel", "end_reason", "expected"),
    [
        (["Can I get a demo and your pricing?"], [], "web_chat", "visitor_ended",
         "Visitor asked for a demo and pricing."),
        (["I need to book a cleaning appointment."], ["Great, you're all set for Tuesday."], "phone",
         "caller_hung_up", "Caller asked to book an appointment. The appointment was booked."),
        (["Our pipe burst, it's an emergency, how much will it cost?"], [], "phone", "transferred",
         "Caller asked for urgent help and pricing. The call was transferred."),
        (["Sorry, wrong number."], [], "phone", "caller_hung_up", "Caller had reached the wrong number."),
        ([], [], "phone", "caller_hung_up", "Caller hung up without saying what they wanted."),
        (["Just wanted to say hello to Maria."], [], "phone", "voicemail",
         "Caller made a general inquiry. It went to voicemail."),
    ],
)  # fmt: skip
async def test_local_summaries(
    caller: list[str], agent: list[str], channel: str, end_reason: str, expected: str
) -> None:
    summarizer: Summarizer = LocalSummarizer()
    conversation = _conversation(caller, agent, channel)
    assert await summarizer.summarize(conversation, end_reason) == expected
    assert await summarizer.summarize(conversation, end_reason) == expected  # deterministic


@pytest.mark.parametrize(
    ("turns", "expected"),
    [
        (samples.vapi_caller_turns, "Caller asked about Thursday opening hours."),
        (samples.retell_caller_turns, "Caller asked for urgent help and pricing."),
        (samples.elevenlabs_caller_turns, "Caller asked to book an appointment."),
        (samples.vapi_fixture_caller_turns, "Caller hung up without saying what they wanted."),
    ],
)
async def test_provider_sample_summaries(turns: Callable[[], list[str]], expected: str) -> None:
    summary = await LocalSummarizer().summarize(_conversation(turns()), "caller_hung_up")
    assert summary == expected
