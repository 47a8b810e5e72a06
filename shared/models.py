"""The one declaration of a conversation, shared across services: the facts an event and a stored
row have in common (the write and the queue payload follow from them), and the fields every read of
a conversation shows first (the API's list item and detail, and the list's SELECT, follow from them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

Source = Literal["phone", "web_chat", "vapi", "retell", "elevenlabs"]
Channel = Literal["phone", "web_chat"]
Role = Literal["agent", "caller", "visitor"]

# A conversation's times as read: rendered by Postgres exactly as msgspec renders an aware UTC
# datetime (shared/db/migrations/0002_conversation_iso_times.sql says why); the schema says the same.
StoredTimestamp = Annotated[
    str,
    msgspec.Meta(description="UTC, ISO-8601 with a trailing Z", extra_json_schema={"format": "date-time"}),
]


class Turn(msgspec.Struct, frozen=True, kw_only=True):
    """One transcript turn, normalised; raw_role keeps the provider's word."""

    role: Role
    content: str
    elapsed_s: float
    raw_role: str


class ConversationFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What a finished conversation says about itself: the same in the event and in the stored row.

    The event (FinishedConversation) adds how to route it; the row (ConversationWrite) adds what the
    worker derives. caller_name, label and summary are the provider's here and may be filled later.
    """

    source: Source
    provider_call_id: str
    channel: Channel
    event_rank: int  # completeness of this event; a higher rank replaces a lower one
    event_at: datetime  # when the provider produced the event (UTC)
    started_at: datetime
    ended_at: datetime
    transcript: list[Turn] = []
    from_number: str | None = None  # E.164
    to_number: str | None = None  # E.164; routes phone calls to an agent
    end_reason_raw: str | None = None
    recording_url: str | None = None
    caller_name: str | None = None
    summary: str | None = None
    label: str | None = None
    visitor_ip: str | None = None
    device_type: str | None = None
    origin_url: str | None = None
    provider_metadata: dict[str, Any] = {}


class FinishedConversation(ConversationFacts, frozen=True, kw_only=True):
    """What every source adapter produces: one finished call or chat, provider-neutral."""

    event_type: str  # the provider's event name, e.g. call_analyzed
    agent_id: int | None = None  # web chats name our agent directly
    provider_assistant_id: str | None = None  # routes provider calls to an agent


_FACT_FIELDS = ConversationFacts.__struct_fields__


def facts_of(conversation: ConversationFacts) -> dict[str, Any]:
    """The facts of an event or a row by name, e.g. to build the row from the event."""
    return {name: getattr(conversation, name) for name in _FACT_FIELDS}


class QueuedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The job payload: the validated conversation plus the raw body for re-processing."""

    conversation: FinishedConversation
    raw_body: bytes
    received_at: datetime
    delivery_id: str | None = None  # webhook-id when the sender gives one


class ListedConversation(msgspec.Struct, frozen=True):
    """The fields every read of a conversation shows first, in the public order.

    The API's list item and detail extend it; shared/db/conversations.py selects exactly these
    columns, in this order, first, so a row's leading values fill it positionally by construction.
    """

    id: int
    channel: Channel
    agent_id: int
    from_number: str | None = msgspec.field(name="from")
    to_number: str | None = msgspec.field(name="to")
    caller_name: str | None
    label: str | None
    summary: str | None
    started_at: StoredTimestamp
    ended_at: StoredTimestamp
    duration_seconds: int
    end_reason: str
    is_archived: bool
    is_viewed: bool
