"""Turn a FinishedConversation into the row the worker writes: every derived field filled."""

from __future__ import annotations

from services.worker.enrich.caller_name import extract_caller_name
from services.worker.enrich.classify import classify
from services.worker.enrich.end_reason import normalise_end_reason
from services.worker.enrich.summarize import Summarizer
from shared.db.conversation_writes import ConversationWrite
from shared.models import FinishedConversation, facts_of


def duration_seconds(conversation: FinishedConversation) -> int:
    """From the timestamps (provider durations are unreliable); never negative."""
    return max(0, round((conversation.ended_at - conversation.started_at).total_seconds()))


async def enrich(
    conversation: FinishedConversation, raw_body: bytes, summarizer: Summarizer
) -> ConversationWrite:
    """Provider values win; what is missing is derived locally."""
    c = conversation
    said = [t.content for t in c.transcript if t.role != "agent"]
    end_reason = normalise_end_reason(c.end_reason_raw, c.channel)
    summary = c.summary or await summarizer.summarize(c, end_reason)
    derived = {
        "caller_name": c.caller_name or extract_caller_name(said),
        "label": c.label or classify(said),
        "summary": summary,
        "duration_seconds": duration_seconds(c),
        "end_reason": end_reason,
        "raw_body": raw_body,
    }
    return ConversationWrite(**(facts_of(c) | derived))
