"""The OpenAPI 3.1 document, generated once from the same msgspec Structs the handlers encode."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

import msgspec

from services.api.inputs import BIGINT_MAX, AgentPatch, ListQuery
from services.api.openapi_responses import public_responses, responses
from services.api.schemas import (
    Agent,
    AgentList,
    AgentUpdated,
    ConversationDetail,
    ConversationList,
    WhoAmI,
)
from shared.errors import ErrorBody
from shared.openapi import REF, ref

_MODELS = (
    WhoAmI,
    ConversationList,
    ConversationDetail,
    AgentList,
    Agent,
    AgentUpdated,
    AgentPatch,
    ErrorBody,
)
_CURSOR_NOTE = (
    "Invalid query parameter (detail names it and the rule), or a before_id that is not one of your "
    "conversations (`before_id: no such conversation`)."
)
_PATCH_NOTE = "A field that is not writable, or a value that breaks its rule; detail names the field."


def _without_none(tp: Any) -> Any:
    """`X | None` -> X: a missing query parameter is how a caller says None."""
    if get_origin(tp) in (Union, types.UnionType):
        rest = [arg for arg in get_args(tp) if arg is not type(None)]
        return rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
    return tp


def _query_parameters() -> list[dict[str, Any]]:
    """One parameter per ListQuery field, schema and description taken from its annotation."""
    params = []
    for field in msgspec.structs.fields(ListQuery):
        schema = msgspec.json.schema(_without_none(field.type))
        if field.name == "since":  # parsed by validation.parse_since, not msgspec's lenient mode
            schema = {
                "type": "string",
                "anyOf": [{"format": "date-time"}, {"format": "date"}],
                "description": schema["description"],
            }
        description = schema.pop("description", "")
        if field.default is not msgspec.NODEFAULT and field.default is not None:
            schema["default"] = field.default
        params.append(
            {
                "name": field.name,
                "in": "query",
                "required": False,
                "description": description,
                "schema": schema,
            }
        )
    return params


def _id_parameter(what: str) -> dict[str, Any]:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": f"The {what}'s id.",
        "schema": {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX},
    }


def _operation(
    op_id: str, summary: str, scope: str, responses: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "operationId": op_id,
        "summary": summary,
        "description": f"Needs the `{scope}` scope.",
        "responses": responses,
        **extra,
    }


def _paths() -> dict[str, Any]:
    patch_body = {"required": True, "content": {"application/json": {"schema": ref(AgentPatch)}}}
    return {
        "/api/v1/whoami": {"get": _operation("whoami", "Who this key belongs to", "read", responses(WhoAmI))},
        "/api/v1/conversations": {
            "get": _operation(
                "listConversations",
                "List conversations, newest first",
                "read",
                responses(ConversationList, "422", notes={"422": _CURSOR_NOTE}),
                parameters=_query_parameters(),
            )
        },
        "/api/v1/conversations/{id}": {
            "get": _operation(
                "getConversation",
                "One conversation with its transcript",
                "read",
                responses(ConversationDetail, "404"),
                parameters=[_id_parameter("conversation")],
            )
        },
        "/api/v1/agents": {
            "get": _operation("listAgents", "List your receptionists", "read", responses(AgentList))
        },
        "/api/v1/agents/{id}": {
            "parameters": [_id_parameter("agent")],
            "get": _operation(
                "getAgent", "One receptionist's configuration", "read", responses(Agent, "404")
            ),
            "patch": _operation(
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
