"""openapi.json's /api/v1/webhooks operations, generated from the Structs the handlers decode and encode."""

from __future__ import annotations

from typing import Any

from services.api.openapi_responses import id_parameter, operation, responses
from services.api.openapi_responses import query_parameters as _query
from services.api.webhooks.inputs import DeliveryQuery, EndpointCreate, EndpointQuery, EndpointUpdate, Recover
from services.api.webhooks.routes import DELIVERIES, ENDPOINTS
from services.api.webhooks.schemas import (
    DeliveryDetail,
    DeliveryList,
    DeliveryRetried,
    EndpointDeleted,
    Recovered,
    SecretRotated,
    SentTestEvent,
    WebhookEndpoint,
    WebhookEndpointCreated,
    WebhookEndpointList,
)
from shared.openapi import ref

WEBHOOK_MODELS = (
    EndpointCreate, EndpointUpdate, Recover, WebhookEndpoint, WebhookEndpointCreated, WebhookEndpointList,
    EndpointDeleted, SecretRotated, SentTestEvent, DeliveryList, DeliveryDetail, DeliveryRetried, Recovered,
)  # fmt: skip
_URL_NOTE = (
    "A field breaks its rule (detail names it), including a url that is not https or whose host "
    "resolves to a loopback, private, link-local or metadata address, or an agent_id not yours."
)
_URL_NOTES = {"422": _URL_NOTE}
_ENDPOINT = "webhook endpoint"
_DELIVERY = "webhook delivery"


def _body(shape: type) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref(shape)}}}


def _created(shape: type) -> dict[str, Any]:
    return responses(shape, "413", "422", notes=_URL_NOTES, ok_status="201")


def _endpoint_paths() -> dict[str, Any]:
    one = ENDPOINTS + "/{id}"
    return {
        ENDPOINTS: {
            "post": operation("createWebhookEndpoint", "Add an endpoint; its secret is shown once", "write",
                              _created(WebhookEndpointCreated), requestBody=_body(EndpointCreate)),
            "get": operation("listWebhookEndpoints", "List your endpoints, oldest first", "read",
                             responses(WebhookEndpointList, "422"), parameters=_query(EndpointQuery)),
        },
        one: {
            "parameters": [id_parameter(_ENDPOINT)],
            "get": operation("getWebhookEndpoint", "One endpoint", "read", responses(WebhookEndpoint, "404")),
            "patch": operation("updateWebhookEndpoint", "Change an endpoint; enabling clears disabled_reason",
                               "write", responses(WebhookEndpoint, "404", "413", "422", notes=_URL_NOTES),
                               requestBody=_body(EndpointUpdate)),
            "delete": operation("deleteWebhookEndpoint", "Delete an endpoint and its delivery log", "write",
                                responses(EndpointDeleted, "404")),
        },
        one + "/rotate-secret": {
            "parameters": [id_parameter(_ENDPOINT)],
            "post": operation("rotateWebhookSecret", "A new secret; the old one also signs for 24 h", "write",
                              responses(SecretRotated, "404")),
        },
        one + "/test": {
            "parameters": [id_parameter(_ENDPOINT)],
            "post": operation("sendWebhookTestEvent", "Send a `test` event to this endpoint", "write",
                              responses(SentTestEvent, "404", ok_status="202")),
        },
    }  # fmt: skip


def _log_paths() -> dict[str, Any]:
    one = ENDPOINTS + "/{id}"
    return {
        one + "/deliveries": {
            "parameters": [id_parameter(_ENDPOINT)],
            "get": operation("listWebhookDeliveries", "The endpoint's delivery log, newest first", "read",
                             responses(DeliveryList, "404", "422"), parameters=_query(DeliveryQuery)),
        },
        one + "/recover": {
            "parameters": [id_parameter(_ENDPOINT)],
            "post": operation("recoverWebhookDeliveries", "Try every failed delivery since a time again",
                              "write", responses(Recovered, "404", "413", "422", ok_status="202"),
                              requestBody=_body(Recover)),
        },
        DELIVERIES + "/{id}": {
            "parameters": [id_parameter(_DELIVERY)],
            "get": operation("getWebhookDelivery", "One delivery: the body sent and every attempt", "read",
                             responses(DeliveryDetail, "404")),
        },
        DELIVERIES + "/{id}/retry": {
            "parameters": [id_parameter(_DELIVERY)],
            "post": operation("retryWebhookDelivery", "Attempt one delivery again now", "write",
                              responses(DeliveryRetried, "404", "409", ok_status="202")),
        },
    }  # fmt: skip


def webhook_paths() -> dict[str, Any]:
    """Every /api/v1/webhooks path item."""
    return {**_endpoint_paths(), **_log_paths()}
