"""The OpenAPI 3.1 document, generated once from the same msgspec Structs the handlers encode."""

from __future__ import annotations

from typing import Any

import msgspec

from services.api.inputs import AgentPatch, ListQuery, SyncQuery
from services.api.openapi_responses import (
    id_parameter,
    operation,
    public_responses,
    query_parameters,
    responses,
)
from services.api.openapi_webhooks import WEBHOOK_MODELS, webhook_paths
from services.api.schemas import (
    Agent,
    AgentList,
    AgentUpdated,
    ConversationDetail,
    ConversationList,
    ConversationSync,
    WhoAmI,
)
from shared.errors import ErrorBody
from shared.openapi import REF, ref

_MODELS = (
    WhoAmI,
    ConversationList,
    ConversationSync,
    ConversationDetail,
    AgentList,
    Agent,
    AgentUpdated,
    AgentPatch,
    ErrorBody,
    *WEBHOOK_MODELS,
)
_CURSOR_NOTE = (
    "Invalid query parameter (detail names it and the rule), or a before_id that is not one of your "
    "conversations (`before_id: no such conversation`)."
)
_SYNC_NOTE = "Invalid query parameter, or a cursor this endpoint did not return (`cursor: ...`)."
_SYNC_DESCRIPTION = (
    "Every conversation created or changed after the cursor, once per change, in the order the "
    "changes were stored (never by wall clock): a conversation enriched later comes again. Start "
    "without a cursor, keep each next_cursor, and poll; end_of_stream says nothing more is visible "
    "now (a change still being written comes on a later call, after the ones before it)."
)
_PATCH_NOTE = "A field that is not writable, or a value that breaks its rule; detail names the field."


def _since_schema(generated: dict[str, Any]) -> dict[str, Any]:
    """since is parsed by validation.parse_since, not msgspec's lenient mode: a timestamp or a date."""
    return {
        "type": "string",
        "anyOf": [{"format": "date-time"}, {"format": "date"}],
        "description": generated["description"],
    }


def _sync_path() -> dict[str, Any]:
    """GET /api/v1/conversations/sync (services/api/sync.py)."""
    get = operation(
        "syncConversations",
        "Conversations changed since a cursor, in change order",
        "read",
        responses(ConversationSync, "422", notes={"422": _SYNC_NOTE}),
        parameters=query_parameters(SyncQuery),
    )
    return {"get": get | {"description": f"{_SYNC_DESCRIPTION} Needs the `read` scope."}}


def _paths() -> dict[str, Any]:
    patch_body = {"required": True, "content": {"application/json": {"schema": ref(AgentPatch)}}}
    return {
        "/api/v1/whoami": {"get": operation("whoami", "Who this key belongs to", "read", responses(WhoAmI))},
        "/api/v1/conversations": {
            "get": operation(
                "listConversations",
                "List conversations, newest first",
                "read",
                responses(ConversationList, "422", notes={"422": _CURSOR_NOTE}),
                parameters=query_parameters(ListQuery, {"since": _since_schema}),
            )
        },
        "/api/v1/conversations/sync": _sync_path(),
        "/api/v1/conversations/{id}": {
            "get": operation(
                "getConversation",
                "One conversation with its transcript",
                "read",
                responses(ConversationDetail, "404"),
                parameters=[id_parameter("conversation")],
            )
        },
        "/api/v1/agents": {
            "get": operation("listAgents", "List your receptionists", "read", responses(AgentList))
        },
        "/api/v1/agents/{id}": {
            "parameters": [id_parameter("agent")],
            "get": operation("getAgent", "One receptionist's configuration", "read", responses(Agent, "404")),
            "patch": operation(
                "updateAgent",
                "Partial update of an agent's writable fields",
                "write",
                responses(AgentUpdated, "404", "413", "422", notes={"422": _PATCH_NOTE}),
                requestBody=patch_body,
            ),
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": public_responses({"type": "object"}, "The OpenAPI 3.1 document"),
            }
        },
        **webhook_paths(),
    }


def build_openapi() -> dict[str, Any]:
    """The whole document; schemas come from msgspec so they can't drift from the responses."""
    _, schemas = msgspec.json.schema_components(_MODELS, ref_template=REF)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "RingReady Developer API",
            "version": "1.0.0",
            "description": (
                "Read your call and web-chat activity and manage your AI receptionists. See /llms.txt."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"apiKeyHeader": []}],
        "paths": _paths(),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Authorization: Bearer rr_live_...",
                },
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
            },
        },
    }


OPENAPI_JSON: bytes = msgspec.json.encode(build_openapi())
