"""Structs shared across services: the canonical finished conversation and its queue envelope."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

Source = Literal["phone", "web_chat", "vapi", "retell", "elevenlabs"]
Channel = Literal["phone", "web_chat"]
Role = Literal["agent", "caller", "visitor"]

SOURCES: tuple[str, ...] = ("phone", "web_chat", "vapi", "retell", "elevenlabs")


class Turn(msgspec.Struct, frozen=True, kw_only=True):
    """One transcript turn, normalised; raw_role keeps the provider's word."""

    role: Role
    content: str
    elapsed_s: float
    raw_role: str


class FinishedConversation(msgspec.Struct, frozen=True, kw_only=True):
    """What every source adapter produces: one finished call or chat, provider-neutral."""

    source: Source
    provider_call_id: str
    channel: Channel
    event_type: str  # the provider's event name, e.g. call_analyzed
    event_rank: int  # completeness of this event; a higher rank replaces a lower one
    event_at: datetime  # when the provider produced the event (UTC)
    started_at: datetime
    ended_at: datetime
    transcript: list[Turn] = []
    from_number: str | None = None  # E.164
    to_number: str | None = None  # E.164; routes phone calls to an agent
    agent_id: int | None = None  # web chats name our agent directly
    provider_assistant_id: str | None = None  # routes provider calls to an agent
    end_reason_raw: str | None = None
    recording_url: str | None = None
    caller_name: str | None = None
    summary: str | None = None
    label: str | None = None
    visitor_ip: str | None = None
    device_type: str | None = None
    origin_url: str | None = None
    provider_metadata: dict[str, Any] = {}


class QueuedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The job payload: the validated conversation plus the raw body for re-processing."""

    conversation: FinishedConversation
    raw_body: bytes
    received_at: datetime
    delivery_id: str | None = None  # webhook-id when the sender gives one
