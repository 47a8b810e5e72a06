"""openapi.json's responses: every status an operation can answer, with the headers it carries."""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from typing import Any, Union, get_args, get_origin

import msgspec

from services.api.conditional import CONDITION_PATTERN, REVALIDATE
from services.api.inputs import BIGINT_MAX
from shared import openapi
from shared.errors import ErrorBody
from shared.openapi import ref

ERRORS = {
    "401": "Missing, invalid or revoked API key.",
    "403": "Valid key, but missing the required scope.",
    "404": "Resource not found or not yours (also an {id} that can't be one of ours).",
    "405": "Method not allowed on this path; Allow lists the methods that are.",
    "409": "The resource is busy right now; detail says when to try again.",
    "412": "If-Match names none of the resource's current ETags: it changed since you read it. Nothing "
    "was written; GET it again, re-apply your change and retry with the new ETag.",
    "413": "Request body too large.",
    "422": "Invalid query parameter or request body; detail names the field and the rule.",
    "429": "Rate limit exceeded; Retry-After and X-RateLimit-Reset say when to retry.",
    "500": "Unexpected error; detail carries only the request id.",
    "503": "The database is unreachable; retry shortly.",
}
# What every authenticated /api/v1 operation can answer, besides its own.
COMMON = ("401", "403", "405", "429", "500", "503")


def _header(description: str, schema: dict[str, Any], *, required: bool) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


REQUEST_ID = _header(
    "The caller's X-Request-ID if it is 1-128 of A-Z a-z 0-9 . _ : -, else a fresh req_<32 hex digits>; "
    "quote it when reporting a problem.",
    {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
    required=True,
)
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
_RATE_LIMIT: dict[str, tuple[str, dict[str, Any]]] = {
    "X-RateLimit-Limit": (
        "At most this many requests are admitted to this key in any 60 s (to the client IP for a "
        "request without a valid key).",
        _COUNT,
    ),
    "X-RateLimit-Remaining": ("Requests that would be admitted right now.", _COUNT),
    "X-RateLimit-Reset": ("Unix time (seconds) by which RateLimit's t has passed.", _COUNT),
    "RateLimit-Policy": (
        'IETF RateLimit fields draft: "<policy>";q=<limit>;w=60, at most q requests in any 60 s',
        {"type": "string"},
    ),
    "RateLimit": (
        'IETF RateLimit fields draft: "<policy>";r=<remaining>;t=<seconds>: at most r more requests '
        "are admitted in the next t seconds; on a 429, t equals Retry-After",
        {"type": "string"},
    ),
}
RETRY_AFTER = _header("Seconds until the next request is admitted.", _COUNT, required=True)
WWW_AUTHENTICATE = _header("Always `Bearer`.", {"type": "string", "const": "Bearer"}, required=True)
ALLOW = _header("The methods this path allows.", {"type": "string"}, required=True)


ETAG = _header(
    "Strong entity tag of this representation: send it back as If-None-Match (304, no body, while "
    "unchanged) or, for an agent, as If-Match on PATCH (412 if the agent changed since).",
    {"type": "string"},
    required=True,
)
CACHE_CONTROL = _header(
    f"`{REVALIDATE}`: a private cache may keep the answer but must revalidate it (If-None-Match) before "
    "each use.",
    {"type": "string", "const": REVALIDATE},
    required=True,
)
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": (
        "The agent's ETag as you read it (or `*`, or several): the write happens only if the agent "
        "still has one of them, else 412 and nothing is written. Strong comparison (a W/ tag never "
        "matches). Optional: without it the PATCH is unconditional. Outside this grammar: 422."
    ),
    "schema": {"type": "string", "pattern": CONDITION_PATTERN},
}
# Not declared as a parameter: a 304 has no body, and every documented response here has one (a
# schema fuzzer sending `*` would get an answer the document can't describe). Said in words instead.
IF_NONE_MATCH_NOTE = (
    " Sends an ETag: send it back as If-None-Match (`*`, a list, and W/ tags work) and the answer is "
    "304 Not Modified, with no body and the same ETag, while the representation is unchanged."
)


def tagged_read(result: dict[str, Any]) -> dict[str, Any]:
    """A read's responses with ETag and Cache-Control on the 200 (If-None-Match: IF_NONE_MATCH_NOTE)."""
    result["200"]["headers"].update({"ETag": ETAG, "Cache-Control": CACHE_CONTROL})
    return result


def rate_limit_headers(*, required: bool) -> dict[str, Any]:
    """The limiter's headers: on every answer to a counted request (required where always present)."""
    return {name: _header(text, schema, required=required) for name, (text, schema) in _RATE_LIMIT.items()}


def json_response(schema: dict[str, Any], description: str, headers: dict[str, Any]) -> dict[str, Any]:
    """One response object: a JSON body and its headers (X-Request-ID on every one)."""
    return openapi.json_response(schema, description, {"X-Request-ID": REQUEST_ID, **headers})


def _error_headers(status: str) -> dict[str, Any]:
    if status == "405":  # routing answers before auth: nothing was counted
        return {"Allow": ALLOW}
    if status == "429":
        return {**rate_limit_headers(required=True), "Retry-After": RETRY_AFTER}
    counted = rate_limit_headers(required=False)  # present once the limiter has decided
    return {**counted, "WWW-Authenticate": WWW_AUTHENTICATE} if status == "401" else counted


def responses(
    ok: type, *errors: str, notes: dict[str, str] | None = None, ok_status: str = "200"
) -> dict[str, Any]:
    """`ok_status` with `ok`, then COMMON plus the operation's own error statuses, each with ErrorBody."""
    result = {ok_status: json_response(ref(ok), "OK", rate_limit_headers(required=True))}
    for status in sorted({*COMMON, *errors}):
        description = (notes or {}).get(status, ERRORS[status])
        result[status] = json_response(ref(ErrorBody), description, _error_headers(status))
    return result


def public_responses(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A public document: no key, no limiter; 405 for other methods."""
    return {
        "200": json_response(schema, description, {}),
        "405": json_response(ref(ErrorBody), ERRORS["405"], {"Allow": ALLOW}),
    }


def operation(
    op_id: str, summary: str, scope: str, responses: dict[str, Any], note: str = "", **extra: Any
) -> dict[str, Any]:
    """One operation object; its description says which scope it needs (then `note`)."""
    return {
        "operationId": op_id,
        "summary": summary,
        "description": f"Needs the `{scope}` scope.{note}",
        "responses": responses,
        **extra,
    }


def id_parameter(what: str) -> dict[str, Any]:
    """The {id} path parameter: one of our bigint ids."""
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": f"The {what}'s id.",
        "schema": {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX},
    }


def timestamp_or_date(generated: dict[str, Any]) -> dict[str, Any]:
    """A time parameter parsed by validation.parse_since, not msgspec's lenient mode: a timestamp
    (no offset: UTC) or a date (midnight UTC)."""
    return {
        "type": "string",
        "anyOf": [{"format": "date-time"}, {"format": "date"}],
        "description": generated["description"],
    }


def without_none(tp: Any) -> Any:
    """`X | None` -> X: a missing query parameter is how a caller says None."""
    if get_origin(tp) in (Union, types.UnionType):
        rest = [arg for arg in get_args(tp) if arg is not type(None)]
        return rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
    return tp


def query_parameters(
    shape: type, adjust: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]] | None = None
) -> list[dict[str, Any]]:
    """One optional parameter per field of a query Struct, schema and description taken from its
    annotation; `adjust` rewrites a field's generated schema."""
    params = []
    for field in msgspec.structs.fields(shape):
        schema = msgspec.json.schema(without_none(field.type))
        if adjust and field.name in adjust:
            schema = adjust[field.name](schema)
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
