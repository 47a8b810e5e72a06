"""The export's operation in openapi.json: a streamed body in either format, not JSON."""

from __future__ import annotations

from typing import Any

from services.api.export.handler import CONTENT_TYPES
from services.api.export.query import ExportQuery
from services.api.openapi_responses import (
    REQUEST_ID,
    operation,
    query_parameters,
    rate_limit_headers,
    responses,
    timestamp_or_date,
)

EXPORT_PATH = "/api/v1/conversations/export"
_NOTES = {
    "422": (
        "Invalid query parameter; detail names it and the rule (an until at or before since is an "
        "empty range, not an error)."
    ),
    "429": "The key's request budget, or this account's export rows per minute, is used up; see Retry-After.",
}


def export_paths() -> dict[str, Any]:
    """The export's path item."""
    streamed = {
        "description": (
            "The conversations, oldest first, streamed. ndjson: each line is exactly "
            "GET /api/v1/conversations/{id}'s body. csv: a header line, then one row each, the "
            "transcript as `role: content` lines in one cell. A body that ends early (the connection "
            "closed before the end of the chunked body) is incomplete: export again."
        ),
        "headers": {"X-Request-ID": REQUEST_ID, **rate_limit_headers(required=True)},
        "content": {content_type: {"schema": {"type": "string"}} for content_type in CONTENT_TYPES.values()},
    }
    answers = responses(ExportQuery, "422", notes=_NOTES)
    answers["200"] = streamed
    return {
        EXPORT_PATH: {
            "get": operation(
                "exportConversations",
                "Every conversation in a time range, as NDJSON or CSV",
                "read",
                answers,
                parameters=query_parameters(
                    ExportQuery, {"since": timestamp_or_date, "until": timestamp_or_date}
                ),
            )
        }
    }
