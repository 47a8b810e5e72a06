"""Retell call_ended (rank 1) and call_analyzed (rank 2) to FinishedConversation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from services.ingest.adapters.common import Adapted, Ignored, invalid
from services.ingest.adapters.retell_schema import RetellCall, RetellKind, RetellWebhook
from services.ingest.phone import to_e164
from services.ingest.roles import normalise_role
from services.ingest.timestamps import check_span, from_epoch_ms
from shared.models import FinishedConversation, Turn

# call_analyzed carries everything call_ended has plus the analysis, so it outranks it.
RANKS = {"call_ended": 1, "call_analyzed": 2}

kind_decoder = msgspec.json.Decoder(RetellKind)
webhook_decoder = msgspec.json.Decoder(RetellWebhook)


def _turns(call: RetellCall) -> list[Turn]:
    """Utterances have no own time; take the first word's start, else keep the previous turn's."""
    turns: list[Turn] = []
    elapsed = 0.0
    for utterance in call.transcript_object:
        role = normalise_role(utterance.role)
        if role is None or not utterance.content:
            continue
        first = utterance.words[0].start if utterance.words else None
        elapsed = first if first is not None else elapsed
        turns.append(Turn(role=role, content=utterance.content, elapsed_s=elapsed, raw_role=utterance.role))
    return turns


def _times(call: RetellCall) -> tuple[datetime, datetime]:
    """(started, ended); calls that never connected (dial_failed, dial_no_answer) may lack either,
    so each falls back to the other, and both to the time we received the event."""
    start, end = call.start_timestamp, call.end_timestamp
    if end is not None:
        ended = from_epoch_ms(end, "call.end_timestamp")
        started = ended if start is None else from_epoch_ms(start, "call.start_timestamp")
    elif start is not None:
        started = ended = from_epoch_ms(start, "call.start_timestamp")
    else:
        started = ended = datetime.now(UTC)
    check_span(started, ended, "call.end_timestamp")
    return started, ended


def _metadata(call: RetellCall) -> dict[str, Any]:
    analysis = call.call_analysis
    found: dict[str, Any] = {
        "call_type": call.call_type,
        "direction": call.direction,
        "agent_name": call.agent_name,
    }
    if analysis is not None:
        found.update(
            user_sentiment=analysis.user_sentiment,
            call_successful=analysis.call_successful,
            in_voicemail=analysis.in_voicemail,
            custom_analysis_data=analysis.custom_analysis_data,
        )
    found["metadata"] = call.metadata
    return {key: value for key, value in found.items() if value is not None}


def adapt_retell(body: bytes) -> Adapted:
    """Map call_ended / call_analyzed; call_started, transcript_updated and the rest are ignored."""
    kind = kind_decoder.decode(body)
    event = kind.event if kind.event is not None else kind.event_type
    if event is None:
        # Every Retell webhook names its event; a body without one is not one we may ignore.
        raise invalid("Object missing required field `event`", "")
    if event not in RANKS:
        return Ignored(f"retell event {event!r} is not stored")
    call = webhook_decoder.decode(body).call
    started_at, ended_at = _times(call)
    variables = call.retell_llm_dynamic_variables or {}
    caller_name = variables.get("customer_name")
    return FinishedConversation(
        source="retell",
        provider_call_id=call.call_id,
        channel="phone",
        event_type=event,
        event_rank=RANKS[event],
        event_at=ended_at,  # Retell bodies carry no event time; the rank orders its two events
        started_at=started_at,
        ended_at=ended_at,
        transcript=_turns(call),
        from_number=to_e164(call.from_number),
        to_number=to_e164(call.to_number),
        provider_assistant_id=call.agent_id,
        end_reason_raw=call.disconnection_reason,
        recording_url=call.recording_url,
        caller_name=caller_name if isinstance(caller_name, str) else None,
        summary=call.call_analysis.call_summary if call.call_analysis else None,
        provider_metadata=_metadata(call),
    )
