"""Vapi end-of-call-report to FinishedConversation; every other message type is ignored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from services.ingest.adapters.common import Adapted, Ignored
from services.ingest.adapters.vapi_schema import VapiEnvelope, VapiReport, VapiTurn, VapiWebhook
from services.ingest.phone import to_e164
from services.ingest.roles import normalise_role
from services.ingest.timestamps import as_utc, check_span, from_epoch_ms
from shared.models import FinishedConversation, Turn

END_OF_CALL_REPORT = "end-of-call-report"
# The report is the final, analysed record of a call (status-update(ended) is never stored).
REPORT_RANK = 2

kind_decoder = msgspec.json.Decoder(VapiEnvelope)
report_decoder = msgspec.json.Decoder(VapiWebhook)


def _turns(report: VapiReport) -> list[Turn]:
    messages: list[VapiTurn] = report.artifact.messages if report.artifact else []
    turns = []
    for item in messages or report.messages:
        role = normalise_role(item.role)
        if role is not None and item.message:
            turns.append(
                Turn(role=role, content=item.message, elapsed_s=item.seconds_from_start, raw_role=item.role)
            )
    return turns


def _first(*candidates: tuple[datetime | None, str]) -> tuple[datetime, str] | None:
    """The first present time and the path it came from."""
    return next(((value, path) for value, path in candidates if value is not None), None)


def _times(report: VapiReport) -> tuple[datetime, datetime]:
    """(started, ended) from the best times the report carries (docs/ingest.md has the order).

    A call that never connected sends a bare report (call id, status, endedReason): its start and
    end are the message time, else the time we received it.
    """
    call = report.call
    started = _first(
        (report.started_at, "message.startedAt"),
        (call.started_at, "message.call.startedAt"),
        (call.created_at, "message.call.createdAt"),
    )
    ended = _first((report.ended_at, "message.endedAt"), (call.ended_at, "message.call.endedAt"))
    if ended is None and report.timestamp:
        ended = (from_epoch_ms(report.timestamp, "message.timestamp"), "message.timestamp")
    ended = ended or started
    if ended is None:
        now = datetime.now(UTC)
        return now, now
    ended_at = as_utc(*ended)
    started_at = as_utc(*started) if started else ended_at
    check_span(started_at, ended_at, ended[1])
    return started_at, ended_at


def _numbers(report: VapiReport) -> tuple[str | None, str | None]:
    """(from, to): the customer called our number on inbound calls, and the reverse on outbound."""
    customer = report.customer or report.call.customer
    ours = to_e164(report.phone_number.number) if report.phone_number else None
    theirs = to_e164(customer.number) if customer else None
    if report.call.type == "outboundPhoneCall":
        return ours, theirs
    return theirs, ours


def _recording(report: VapiReport) -> str | None:
    artifact = report.artifact
    if artifact is None:
        return report.recording_url
    mono = artifact.recording.mono if artifact.recording else None
    return (mono.combined_url if mono else None) or artifact.recording_url or report.recording_url


def _metadata(report: VapiReport) -> dict[str, Any]:
    analysis = report.analysis
    found = {
        "call_type": report.call.type,
        "call_status": report.call.status,
        "phone_call_provider_id": report.call.phone_call_provider_id,
        "cost": report.cost,
        "success_evaluation": analysis.success_evaluation if analysis else None,
        "structured_data": analysis.structured_data if analysis else None,
    }
    return {key: value for key, value in found.items() if value is not None}


def _ignored(kind: str) -> Ignored:
    return Ignored(f"vapi message type {kind!r} is not stored")


def adapt_vapi(body: bytes) -> Adapted:
    """Map an end-of-call-report; other server messages are acknowledged and ignored."""
    # Reports are nearly all the traffic, so decode as one first: a single pass over the body.
    try:
        report = report_decoder.decode(body).message
    except msgspec.ValidationError:
        # Not report-shaped: the type decides. Other types are ignored whatever their shape; a
        # broken report (or no type at all) is refused with the error of whichever decode failed.
        kind = kind_decoder.decode(body).message.type
        if kind == END_OF_CALL_REPORT:
            raise
        return _ignored(kind)
    if report.type != END_OF_CALL_REPORT:
        return _ignored(report.type)
    started_at, ended_at = _times(report)
    from_number, to_number = _numbers(report)
    customer = report.customer or report.call.customer
    return FinishedConversation(
        source="vapi",
        provider_call_id=report.call.id,
        channel="phone",
        event_type=END_OF_CALL_REPORT,
        event_rank=REPORT_RANK,
        event_at=from_epoch_ms(report.timestamp, "message.timestamp") if report.timestamp else ended_at,
        started_at=started_at,
        ended_at=ended_at,
        transcript=_turns(report),
        from_number=from_number,
        to_number=to_number,
        provider_assistant_id=report.call.assistant_id,
        end_reason_raw=report.ended_reason or report.call.ended_reason,
        recording_url=_recording(report),
        caller_name=customer.name if customer else None,
        summary=(report.analysis.summary if report.analysis else None) or report.summary,
        provider_metadata=_metadata(report),
    )
