"""What /api/v1/webhooks accepts: bodies and query strings, each rule stated where it is checked."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

import msgspec

from services.api.inputs import ANY_LINE, Id

EventType = Literal[
    "conversation.created", "conversation.updated", "agent.updated", "webhook_endpoint.disabled"
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
DeliveryStatus = Literal["pending", "succeeded", "failed"]
Url = Annotated[
    str,
    msgspec.Meta(
        min_length=10,
        max_length=2000,
        pattern="^https?://[^\u0000-\u0020\u007f]+$",
        description=(
            "Where events are POSTed: an absolute https URL without credentials (http only where the "
            "server allows it), whose host does not resolve to a loopback, private, link-local or "
            "metadata address (422 otherwise; checked again on every delivery)."
        ),
    ),
]
Description = Annotated[str, msgspec.Meta(max_length=500, pattern=ANY_LINE, description="A note for you")]
EventTypes = Annotated[
    list[EventType],
    msgspec.Meta(max_length=len(EVENT_TYPES), description="The event types sent here; empty: all of them"),
]
AgentFilter = Annotated[Id, msgspec.Meta(description="Only this receptionist's events")]


class EndpointCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A new endpoint; its signing secret is in the reply, once."""

    url: Url
    description: Description = ""
    event_types: EventTypes = []
    agent_id: AgentFilter | None = None


class EndpointUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The fields to change; enabling an endpoint clears its disabled_reason."""

    url: Url | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    event_types: EventTypes | msgspec.UnsetType = msgspec.UNSET
    agent_id: AgentFilter | None | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


class Recover(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Which failed deliveries to try again."""

    since: Annotated[
        datetime, msgspec.Meta(tz=True, description="Deliveries created at or after this instant")
    ]


Limit = Annotated[int, msgspec.Meta(ge=1, le=100, description="1-100, default 50")]


class EndpointQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """GET /webhooks/endpoints: oldest first."""

    after_id: Annotated[Id, msgspec.Meta(description="The previous page's next_after_id")] | None = None
    limit: Limit = 50


class DeliveryQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """GET /webhooks/endpoints/{id}/deliveries: newest first."""

    status: Annotated[DeliveryStatus, msgspec.Meta(description="Only deliveries in this state")] | None = None
    before_id: Annotated[Id, msgspec.Meta(description="The previous page's next_before_id")] | None = None
    limit: Limit = 50
