"""Native phone and web-chat events to FinishedConversation."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any, NamedTuple

import msgspec

from services.ingest.adapters.common import invalid
from services.ingest.adapters.native_schema import (
    ChatTurn,
    NativeBase,
    NativePhoneCall,
    NativeWebChat,
    PhoneTurn,
)
from services.ingest.phone import to_e164
from services.ingest.roles import normalise_role
from services.ingest.timestamps import as_utc, check_span
from shared.models import Channel, FinishedConversation, Role, Source, Turn

# Native senders version a record with `updated_at`; the rank is the same for every delivery.
NATIVE_RANK = 1

phone_decoder = msgspec.json.Decoder(NativePhoneCall)
web_chat_decoder = msgspec.json.Decoder(NativeWebChat)


def _turns(turns: list[PhoneTurn] | list[ChatTurn], human: Role) -> list[Turn]:
    result = []
    for turn in turns:
        role = normalise_role(turn.role, human)
        if role is not None:
            result.append(Turn(role=role, content=turn.content, elapsed_s=turn.elapsed_s, raw_role=turn.role))
    return result


def _number(value: str | None, field: str) -> str | None:
    number = to_e164(value)
    if value is not None and number is None:
        raise invalid("not a phone number in E.164 form", field)
    return number


def _visitor_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        if "%" in value:  # a scoped IPv6 address (fe80::1%eth0) is not a visitor's address
            raise ValueError(value)
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise invalid("not an IPv4 or IPv6 address", "visitor_ip") from None


def _times(event: NativeBase) -> tuple[datetime, datetime, datetime]:
    """(started, ended, event time) in UTC; the schema has checked their window and order."""
    started_at, ended_at = as_utc(event.started_at, "started_at"), as_utc(event.ended_at, "ended_at")
    check_span(started_at, ended_at, "ended_at")
    return started_at, ended_at, as_utc(event.updated_at, "updated_at") if event.updated_at else ended_at


class _Format(NamedTuple):
    """What a native format is: its source and channel, its event's name, who the human is."""

    source: Source
    channel: Channel
    event_type: str
    human: Role


PHONE = _Format("phone", "phone", "call_ended", "caller")
WEB_CHAT = _Format("web_chat", "web_chat", "chat_ended", "visitor")


def _finished(
    event: NativePhoneCall | NativeWebChat, form: _Format, call_id: str, **own: Any
) -> FinishedConversation:
    """What both native formats fill the same way, plus the format's own fields."""
    started_at, ended_at, event_at = _times(event)
    return FinishedConversation(
        source=form.source,
        provider_call_id=call_id,
        channel=form.channel,
        event_type=form.event_type,
        event_rank=NATIVE_RANK,
        event_at=event_at,
        started_at=started_at,
        ended_at=ended_at,
        transcript=_turns(event.transcript, form.human),
        agent_id=event.agent_id,
        end_reason_raw=event.end_reason,
        summary=event.summary,
        label=event.label,
        provider_metadata=event.metadata,
        **own,
    )


def adapt_phone(body: bytes) -> FinishedConversation:
    """Decode a native phone event (422 naming the field on bad input)."""
    call = phone_decoder.decode(body)
    numbers = {"from_number": _number(call.from_, "from"), "to_number": _number(call.to, "to")}
    return _finished(
        call, PHONE, call.call_id, recording_url=call.recording_url, caller_name=call.caller_name, **numbers
    )


def adapt_web_chat(body: bytes) -> FinishedConversation:
    """Decode a native web-chat event (422 naming the field on bad input)."""
    chat = web_chat_decoder.decode(body)
    visitor = {"caller_name": chat.visitor_name, "visitor_ip": _visitor_ip(chat.visitor_ip)}
    return _finished(
        chat, WEB_CHAT, chat.session_id, device_type=chat.device_type, origin_url=chat.origin_url, **visitor
    )
