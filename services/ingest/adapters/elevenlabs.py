"""ElevenLabs post_call_transcription to FinishedConversation; other webhook types are ignored."""

from __future__ import annotations

from typing import Any

import msgspec

from services.ingest.adapters.common import Adapted, Ignored
from services.ingest.adapters.elevenlabs_schema import ElevenData, ElevenKind, ElevenWebhook
from services.ingest.phone import to_e164
from services.ingest.roles import normalise_role
from services.ingest.timestamps import check_span, from_epoch_s, plus_seconds
from shared.models import FinishedConversation, Turn

POST_CALL_TRANSCRIPTION = "post_call_transcription"
# Sent once analysis is complete: the final record.
TRANSCRIPTION_RANK = 2

kind_decoder = msgspec.json.Decoder(ElevenKind)
webhook_decoder = msgspec.json.Decoder(ElevenWebhook)


def _turns(data: ElevenData) -> list[Turn]:
    turns = []
    for item in data.transcript:
        role = normalise_role(item.role)
        if role is not None and item.message:
            turns.append(
                Turn(role=role, content=item.message, elapsed_s=item.time_in_call_secs, raw_role=item.role)
            )
    return turns


def _numbers(data: ElevenData) -> tuple[str | None, str | None]:
    """(from, to): inbound calls come from the external number to the agent's number."""
    call = data.metadata.phone_call
    if call is None:
        return None, None
    ours, theirs = to_e164(call.agent_number), to_e164(call.external_number)
    return (ours, theirs) if call.direction == "outbound" else (theirs, ours)


def _metadata(data: ElevenData) -> dict[str, Any]:
    analysis = data.analysis
    found = {
        "status": data.status,
        "cost": data.metadata.cost,
        "phone_call_type": data.metadata.phone_call.type if data.metadata.phone_call else None,
        "call_successful": analysis.call_successful if analysis else None,
        "call_summary_title": analysis.call_summary_title if analysis else None,
    }
    return {key: value for key, value in found.items() if value is not None}


def adapt_elevenlabs(body: bytes) -> Adapted:
    """Map post_call_transcription; post_call_audio and failure notices are acknowledged and ignored."""
    kind = kind_decoder.decode(body).type
    if kind != POST_CALL_TRANSCRIPTION:
        return Ignored(f"elevenlabs webhook type {kind!r} is not stored")
    webhook = webhook_decoder.decode(body)
    data = webhook.data
    started_at = from_epoch_s(data.metadata.start_time_unix_secs, "data.metadata.start_time_unix_secs")
    duration_path = "data.metadata.call_duration_secs"
    ended_at = plus_seconds(started_at, data.metadata.call_duration_secs, duration_path)
    check_span(started_at, ended_at, duration_path)
    event_at = ended_at
    if webhook.event_timestamp:
        event_at = from_epoch_s(webhook.event_timestamp, "event_timestamp")
    from_number, to_number = _numbers(data)
    return FinishedConversation(
        source="elevenlabs",
        provider_call_id=data.conversation_id,
        channel="phone",
        event_type=POST_CALL_TRANSCRIPTION,
        event_rank=TRANSCRIPTION_RANK,
        event_at=event_at,
        started_at=started_at,
        ended_at=ended_at,
        transcript=_turns(data),
        from_number=from_number,
        to_number=to_number,
        provider_assistant_id=data.agent_id,
        end_reason_raw=data.metadata.termination_reason or None,
        summary=data.analysis.transcript_summary if data.analysis else None,
        provider_metadata=_metadata(data),
    )
