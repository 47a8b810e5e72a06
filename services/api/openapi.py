"""The OpenAPI 3.1 document, generated once from the same msgspec Structs the handlers encode."""

from __future__ import annotations

from typing import Any

import msgspec

from services.api.export.openapi import export_paths
from services.api.inputs import AgentPatch, ListQuery, SyncQuery
from services.api.openapi_responses import (
    ETAG,
    IF_MATCH,
    IF_NONE_MATCH_NOTE,
    id_parameter,
    operation,
    public_responses,
    query_parameters,
    responses,
    tagged_read,
    timestamp_or_date,
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
_PATCH_NOTE = (
    "A field that is not writable, a value that breaks its rule, or an If-Match outside its grammar; "
    "detail names the field or header."
)


def _patch_responses() -> dict[str, Any]:
    """The PATCH's answers; its 200 carries the agent's new ETag."""
    result = responses(AgentUpdated, "404", "412", "413", "422", notes={"422": _PATCH_NOTE})
    result["200"]["headers"]["ETag"] = ETAG
    return result


def _agent_paths() -> dict[str, Any]:
    """The agents' operations: tagged reads, and the PATCH with its If-Match."""
    patch_body = {"required": True, "content": {"application/json": {"schema": ref(AgentPatch)}}}
    return {
        "/api/v1/agents": {
            "get": operation(
                "listAgents",
                "List your receptionists",
                "read",
                tagged_read(responses(AgentList)),
                IF_NONE_MATCH_NOTE,
            )
        },
        "/api/v1/agents/{id}": {
            "parameters": [id_parameter("agent")],
            "get": operation(
                "getAgent",
                "One receptionist's configuration",
                "read",
                tagged_read(responses(Agent, "404")),
                IF_NONE_MATCH_NOTE,
            ),
            "patch": operation(
                "updateAgent",
                "Partial update of an agent's writable fields",
                "write",
                _patch_responses(),
                parameters=[IF_MATCH],
                requestBody=patch_body,
            ),
        },
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
    return {
        "/api/v1/whoami": {"get": operation("whoami", "Who this key belongs to", "read", responses(WhoAmI))},
        "/api/v1/conversations": {
            "get": operation(
                "listConversations",
                "List conversations, newest first",
                "read",
                responses(ConversationList, "422", notes={"422": _CURSOR_NOTE}),
                parameters=query_parameters(ListQuery, {"since": timestamp_or_date}),
            )
        },
        "/api/v1/conversations/sync": _sync_path(),
        "/api/v1/conversations/{id}": {
            "get": operation(
                "getConversation",
                "One conversation with its transcript",
                "read",
                tagged_read(responses(ConversationDetail, "404")),
                IF_NONE_MATCH_NOTE,
                parameters=[id_parameter("conversation")],
            )
        },
        **_agent_paths(),
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": public_responses({"type": "object"}, "The OpenAPI 3.1 document"),
            }
        },
        **export_paths(),
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
