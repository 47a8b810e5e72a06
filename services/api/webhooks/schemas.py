"""What /api/v1/webhooks answers: responses are encoded from these and OpenAPI is generated from them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from services.api.schemas import Timestamp


class WebhookEndpoint(msgspec.Struct, frozen=True):
    """An endpoint; its secret is shown only when created or rotated."""

    id: int
    url: str
    description: str
    event_types: list[str]
    agent_id: int | None
    enabled: bool
    disabled_reason: Annotated[str | None, msgspec.Meta(description="Why we disabled it, if we did")]
    created_at: Timestamp
    updated_at: Timestamp


class WebhookEndpointCreated(WebhookEndpoint, frozen=True):
    """The new endpoint with its signing secret: store it now, it is not shown again."""

    secret: Annotated[str, msgspec.Meta(description="whsec_...: verify deliveries with it")]


class WebhookEndpointList(msgspec.Struct, frozen=True):
    """A page, oldest first; pass next_after_id as after_id for the next one (null at the end)."""

    endpoints: list[WebhookEndpoint]
    next_after_id: int | None
    limit: int


class EndpointDeleted(msgspec.Struct, frozen=True):
    """The endpoint and its delivery log are gone."""

    id: int
    deleted: Literal[True]


class SecretRotated(msgspec.Struct, frozen=True):
    """The new secret; the old one keeps signing (a second signature) until the time given."""

    id: int
    secret: str
    previous_secret_expires_at: Timestamp


class Delivery(msgspec.Struct, frozen=True):
    """One event's delivery to one endpoint."""

    id: int
    event_id: Annotated[str, msgspec.Meta(description="The webhook-id header: deduplicate on it")]
    event_type: str
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: Annotated[Timestamp | None, msgspec.Meta(description="While pending")]
    created_at: Timestamp
    updated_at: Timestamp


class DeliveryList(msgspec.Struct, frozen=True):
    """A page, newest first; pass next_before_id as before_id for the next one (null at the end)."""

    deliveries: list[Delivery]
    next_before_id: int | None
    limit: int


class Attempt(msgspec.Struct, frozen=True):
    """One try: status_code null when there was no HTTP answer (see error)."""

    attempted_at: Timestamp
    status_code: int | None
    latency_ms: int
    response_body: Annotated[str, msgspec.Meta(description="The first 1 KiB of the answer")]
    error: str | None


class DeliveryDetail(Delivery, frozen=True):
    """A delivery with the exact body sent and every attempt, oldest first."""

    endpoint_id: int
    payload: dict[str, Any]
    attempt_log: list[Attempt]


class DeliveryRetried(msgspec.Struct, frozen=True):
    """The delivery is due now; the worker attempts it within a moment."""

    id: int
    status: Literal["pending"]


class Recovered(msgspec.Struct, frozen=True):
    """How many failed deliveries are due again."""

    endpoint_id: int
    recovered: int


class SentTestEvent(msgspec.Struct, frozen=True):
    """A `test` event queued for this endpoint only; follow it in the delivery log."""

    endpoint_id: int
    event_id: str
