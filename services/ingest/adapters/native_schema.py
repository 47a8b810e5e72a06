"""Our own documented webhook formats (docs/ingest.md): native phone calls and native web chats."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from services.ingest.timestamps import as_utc

UtcTime = Annotated[
    datetime,
    Meta(
        tz=True,
        description="RFC 3339 with a UTC offset, between 1970-01-01T00:00:00Z and 2100-01-01T00:00:00Z",
    ),
]
Text = Annotated[str, Meta(max_length=10_000)]
Id = Annotated[str, Meta(min_length=1, max_length=255)]
AgentId = Annotated[int, Meta(ge=1, le=2**63 - 1, description="RingReady agent id")]
# Exactly what services/ingest/phone.py can normalise to E.164: `+` or `00` or nothing, then 7-15
# digits not starting with 0, separators anywhere. `(?!\n)`: Python's `$` would also match before a
# final newline, JSON Schema's (ECMA 262) would not.
PhoneNumber = Annotated[
    str,
    Meta(
        pattern=r"^(?:\+|[ ().\-]*(?:0[ ().\-]*0)?)[ ().\-]*[1-9](?:[ ().\-]*[0-9]){6,14}[ ().\-]*$(?!\n)",
        max_length=24,
        description="E.164 preferred; spaces, dots, dashes and parentheses are ignored, `00` means `+`",
    ),
]
# "" means unknown (stored as null); otherwise the address, validated.
VisitorIp = Annotated[
    str,
    Meta(max_length=45, extra_json_schema={"anyOf": [{"const": ""}, {"format": "ipv4"}, {"format": "ipv6"}]}),
]
Seconds = Annotated[float, Meta(ge=0, description="seconds since the conversation started")]


class PhoneTurn(msgspec.Struct, frozen=True, kw_only=True):
    """One turn of a phone transcript; system and tool turns are accepted and dropped."""

    role: Literal["agent", "caller", "system", "tool"]
    content: str
    elapsed_s: Seconds


class ChatTurn(msgspec.Struct, frozen=True, kw_only=True):
    """One turn of a web-chat transcript; system and tool turns are accepted and dropped."""

    role: Literal["agent", "visitor", "system", "tool"]
    content: str
    elapsed_s: Seconds


class NativeBase(msgspec.Struct, frozen=True, kw_only=True):
    """Fields both native formats share. Unknown fields are ignored so senders can add some."""

    started_at: UtcTime
    ended_at: UtcTime
    updated_at: UtcTime | None = None  # the record's version; a newer one replaces an older one
    end_reason: Annotated[str, Meta(max_length=200)] | None = None
    summary: Text | None = None
    label: Annotated[str, Meta(max_length=200)] | None = None
    metadata: dict[str, Any] = {}

    def __post_init__(self) -> None:
        # Compared in UTC, each within the window first: an offset near year 1 or 9999 overflows.
        started = as_utc(self.started_at, "started_at")
        if as_utc(self.ended_at, "ended_at") < started:
            raise ValueError("`ended_at` must not be before `started_at` - at `$.ended_at`")


class NativePhoneCall(NativeBase, frozen=True, kw_only=True):
    """POST /webhooks/v1/phone: one finished call from any telephony backend."""

    call_id: Annotated[Id, Meta(description="the telephony backend's call id; unique per call")]
    to: PhoneNumber | None = None
    from_: PhoneNumber | None = msgspec.field(default=None, name="from")
    agent_id: AgentId | None = None
    recording_url: Annotated[str, Meta(max_length=2048)] | None = None
    caller_name: Annotated[str, Meta(max_length=200)] | None = None
    transcript: list[PhoneTurn] = []

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.to is None and self.agent_id is None:
            raise ValueError("either `to` or `agent_id` is required - at `$.to`")


class NativeWebChat(NativeBase, frozen=True, kw_only=True):
    """POST /webhooks/v1/web-chat: one finished chat from our chat widget backend."""

    session_id: Annotated[Id, Meta(description="the widget's chat session id; unique per chat")]
    agent_id: AgentId
    visitor_ip: VisitorIp | None = None
    device_type: Annotated[str, Meta(max_length=50)] | None = None
    origin_url: Annotated[str, Meta(max_length=2048)] | None = None
    visitor_name: Annotated[str, Meta(max_length=200)] | None = None
    transcript: list[ChatTurn] = []
