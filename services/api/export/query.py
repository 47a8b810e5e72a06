"""The export's query parameters: format, the list's filters, and an `until` to bound the range."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from multidict import MultiMapping

from services.api.inputs import BIGINT_MAX, QUERY_RULES, Id
from services.api.validation import parse_since, single_values
from shared.db.conversation_export import ExportFilters
from shared.errors import InvalidInput
from shared.export import FORMATS

RULES: dict[str, str] = {
    "format": "must be 'ndjson' or 'csv'",
    "channel": QUERY_RULES["channel"],
    "agent_id": QUERY_RULES["agent_id"],
    "since": QUERY_RULES["since"],
    "until": ("must be an ISO-8601 timestamp such as 2026-06-09T14:03:00Z (or a date, 2026-06-09)"),
}
_INTEGER = re.compile(r"[1-9][0-9]{0,18}")


class ExportQuery(msgspec.Struct, frozen=True):
    """What to export: conversations started in [since, until), oldest first (the OpenAPI
    document's parameters come from these annotations)."""

    format: Annotated[
        Literal["ndjson", "csv"],
        msgspec.Meta(description="ndjson (default): one conversation's detail per line; csv: flat rows"),
    ] = "ndjson"
    channel: Annotated[Literal["phone", "web_chat"], msgspec.Meta(description="phone or web_chat")] | None = (
        None
    )
    agent_id: Annotated[Id, msgspec.Meta(description="Only this receptionist's conversations")] | None = None
    since: Annotated[datetime, msgspec.Meta(description="Started at/after this time (inclusive)")] | None = (
        None
    )
    until: Annotated[datetime, msgspec.Meta(description="Started before this time (exclusive)")] | None = None

    def filters(self) -> ExportFilters:
        return ExportFilters(self.channel, self.agent_id, self.since, self.until)


def _refuse(name: str) -> InvalidInput:
    return InvalidInput(f"{name}: {RULES[name]}")


def parse_export_query(query: MultiMapping[str]) -> ExportQuery:
    """Each parameter at most once, each value exactly as documented; else a 422 naming it."""
    raw = single_values(query, RULES)
    if raw.get("format", "ndjson") not in FORMATS:
        raise _refuse("format")
    if raw.get("channel", "phone") not in ("phone", "web_chat"):
        raise _refuse("channel")
    agent_id = raw.get("agent_id")
    if agent_id is not None and not (_INTEGER.fullmatch(agent_id) and int(agent_id) <= BIGINT_MAX):
        raise _refuse("agent_id")
    since = parse_since(raw["since"]) if "since" in raw else None
    until = _until(raw["until"]) if "until" in raw else None
    return ExportQuery(
        format=raw.get("format", "ndjson"),  # type: ignore[arg-type]  # checked against the Literal above
        channel=raw.get("channel"),  # type: ignore[arg-type]  # checked against the Literal above
        agent_id=int(agent_id) if agent_id is not None else None,
        since=since,
        until=until,
    )


def _until(raw: str) -> datetime:
    try:
        return parse_since(raw)
    except InvalidInput:
        raise _refuse("until") from None
