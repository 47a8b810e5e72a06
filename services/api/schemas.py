"""The public wire shapes of /api/v1: responses are encoded from these and OpenAPI is generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from shared.models import ListedConversation, Role

Timestamp = Annotated[datetime, msgspec.Meta(description="UTC, ISO-8601 with a trailing Z")]


class RateLimit(msgspec.Struct, frozen=True):
    """The key's request budget."""

    limit: Annotated[int, msgspec.Meta(description="requests per window")]
    window_seconds: int


class WhoAmI(msgspec.Struct, frozen=True):
    """Who the key belongs to and what it may do."""

    user_id: int
    email: str
    auth_method: Literal["api_key"]
    api_key_prefix: str
    scopes: list[Literal["read", "write"]]
    rate_limit: RateLimit


# gc=False on the list's per-row Structs: they hold only scalars, strings and a WebChat, so they
# can't be part of a reference cycle, and a page makes up to 400 of them that the cyclic GC
# would otherwise track and traverse.


class WebChat(msgspec.Struct, frozen=True, gc=False):
    """Web-chat context in lists (never the visitor's IP)."""

    device_type: str | None
    origin_url: str | None


class ConversationItem(ListedConversation, frozen=True, gc=False):
    """One call or chat as listed: the seed's fields, in the seed's order."""

    web_chat: WebChat | None


class ConversationList(msgspec.Struct, frozen=True):
    """A page, newest first; pass next_before_id as before_id for the next one (null at the end)."""

    conversations: list[ConversationItem]
    next_before_id: int | None
    limit: int


class TranscriptTurn(msgspec.Struct, frozen=True):
    """One turn of the transcript; elapsed_s counts from the start of the conversation."""

    role: Role
    content: str
    elapsed_s: float


class WebChatDetail(msgspec.Struct, frozen=True):
    """Web-chat context of a single conversation, including the visitor's IP."""

    device_type: str | None
    origin_url: str | None
    visitor_ip: str | None


class ConversationDetail(ListedConversation, frozen=True):
    """A single conversation: the list item plus transcript and recording."""

    web_chat: WebChatDetail | None
    transcript: list[TranscriptTurn]
    recording_url: str | None


class AgentSummary(msgspec.Struct, frozen=True):
    """One receptionist as listed."""

    id: int
    phone_number: str | None
    agent_name: str
    business_name: str
    subscription_type: str
    created_at: Timestamp


class AgentList(msgspec.Struct, frozen=True):
    """Every receptionist of the key's account, oldest first."""

    agents: list[AgentSummary]


class AppointmentBooking(msgspec.Struct, frozen=True):
    """SMS booking settings (managed in the dashboard)."""

    sms_enabled: bool
    sms_url: str | None
    sms_purpose: str | None


class Features(msgspec.Struct, frozen=True):
    """Feature flags (managed in the dashboard)."""

    web_chat_enabled: bool
    live_context_enabled: bool
    webhook_enabled: bool
    webhook_url: str | None


class Agent(msgspec.Struct, frozen=True):
    """One receptionist's full configuration."""

    id: int
    phone_number: str | None
    subscription_type: str
    agent_name: str
    voice: str
    greeting_message: str | None
    agent_goal: str
    business_name: str
    business_website: str | None
    business_services: str
    faq: dict[str, str]
    appointment_booking: AppointmentBooking
    features: Features
    is_suspended: bool
    created_at: Timestamp


class AgentUpdated(msgspec.Struct, frozen=True):
    """The PATCH reply: the fields written, in the order they were sent."""

    id: int
    updated: list[str]


class ConversationSync(msgspec.Struct, frozen=True):
    """Conversations created or changed since the cursor, in the order they changed (a conversation
    changed again comes again); pass next_cursor back for the rest."""

    conversations: list[ConversationItem]
    next_cursor: Annotated[str, msgspec.Meta(description="Opaque; pass it as cursor next time")]
    end_of_stream: Annotated[
        bool, msgspec.Meta(description="Nothing more is visible now; call again later with next_cursor")
    ]
