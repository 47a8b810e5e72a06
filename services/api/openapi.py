"""The OpenAPI 3.1 document, generated once from the same msgspec Structs the handlers encode."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

import msgspec

from services.api.inputs import AgentPatch, ListQuery
from services.api.schemas import (
    Agent,
    AgentList,
    AgentUpdated,
    ConversationDetail,
    ConversationList,
    ErrorBody,
    WhoAmI,
)

REF = "#/components/schemas/{name}"
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
_ERRORS = {
    "401": "Missing, invalid or revoked API key.",
    "403": "Valid key, but missing the required scope.",
    "404": "Resource not found or not yours.",
    "405": "Method not allowed on this path.",
    "413": "Request body too large.",
    "422": "Invalid query parameter or request body; detail names the field and the rule.",
    "429": "Rate limit exceeded; Retry-After and X-RateLimit-Reset say when to retry.",
    "500": "Unexpected error; detail carries only the request id.",
    "503": "The database is unreachable; retry shortly.",
}


def _ref(model: type) -> dict[str, str]:
    return {"$ref": REF.format(name=model.__name__)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _responses(ok: type, *errors: str) -> dict[str, Any]:
    """200 with `ok`, plus the listed error statuses (and 401/429/500/503 everywhere)."""
    responses = {"200": _json(_ref(ok), "OK")}
    for status in sorted({"401", "429", "500", "503", *errors}):
        responses[status] = _json(_ref(ErrorBody), _ERRORS[status])
    return responses


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
        if field.name == "since":
            schema = {
                "type": "string",
                "format": "date-time",
                **{k: v for k, v in schema.items() if k != "type"},
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
        "schema": {"type": "integer", "minimum": 1},
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
    patch_body = {"required": True, "content": {"application/json": {"schema": _ref(AgentPatch)}}}
    return {
        "/api/v1/whoami": {
            "get": _operation("whoami", "Who this key belongs to", "read", _responses(WhoAmI, "403"))
        },
        "/api/v1/conversations": {
            "get": _operation(
                "listConversations",
                "List conversations, newest first",
                "read",
                _responses(ConversationList, "403", "422"),
                parameters=_query_parameters(),
            )
        },
        "/api/v1/conversations/{id}": {
            "get": _operation(
                "getConversation",
                "One conversation with its transcript",
                "read",
                _responses(ConversationDetail, "403", "404"),
                parameters=[_id_parameter("conversation")],
            )
        },
        "/api/v1/agents": {
            "get": _operation("listAgents", "List your receptionists", "read", _responses(AgentList, "403"))
        },
        "/api/v1/agents/{id}": {
            "parameters": [_id_parameter("agent")],
            "get": _operation(
                "getAgent", "One receptionist's configuration", "read", _responses(Agent, "403", "404")
            ),
            "patch": _operation(
                "updateAgent",
                "Partial update of an agent's writable fields",
                "write",
                _responses(AgentUpdated, "403", "404", "413", "422"),
                requestBody=patch_body,
            ),
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "The OpenAPI 3.1 document")},
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
