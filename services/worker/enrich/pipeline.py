"""Turn a FinishedConversation into the row the worker writes: every derived field filled."""

from __future__ import annotations

from services.worker.enrich.caller_name import extract_caller_name
from services.worker.enrich.classify import classify
from services.worker.enrich.end_reason import normalise_end_reason
from services.worker.enrich.summarize import Summarizer
from shared.db.conversation_writes import ConversationWrite
from shared.models import FinishedConversation


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
    return ConversationWrite(
        channel=c.channel,
        source=c.source,
        provider_call_id=c.provider_call_id,
        from_number=c.from_number,
        to_number=c.to_number,
        caller_name=c.caller_name or extract_caller_name(said),
        label=c.label or classify(said),
        summary=summary,
        started_at=c.started_at,
        ended_at=c.ended_at,
        duration_seconds=duration_seconds(c),
        end_reason=end_reason,
        end_reason_raw=c.end_reason_raw,
        device_type=c.device_type,
        origin_url=c.origin_url,
        event_rank=c.event_rank,
        event_at=c.event_at,
        transcript=c.transcript,
        recording_url=c.recording_url,
        visitor_ip=c.visitor_ip,
        provider_metadata=c.provider_metadata,
        raw_body=raw_body,
    )
