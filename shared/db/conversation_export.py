"""The export's SQL: an account's conversations oldest first, a keyset batch at a time, each row
already in its exported form (NDJSON: the detail's JSON text built by Postgres, as the webhooks'
payloads are; CSV: flat columns with the transcript as text)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import product

import asyncpg
import msgspec

from shared.db.statement_pool import Queryable
from shared.db.webhook_events import conversation_json
from shared.models import ListedConversation

_LISTED = msgspec.structs.fields(ListedConversation)
# A CSV row: the detail's fields, flat, in its order (web_chat's three as columns of their own,
# empty for a call); the header line names them as the JSON does.
CSV_HEADER = (
    *(field.encode_name for field in _LISTED),
    "device_type", "origin_url", "visitor_ip", "transcript", "recording_url",
)  # fmt: skip
_STORED_AS = {"started_at": "c.started_at_iso", "ended_at": "c.ended_at_iso"}
# "role: content" per turn, one line each, in the transcript's order.
_TRANSCRIPT_TEXT = (
    "(SELECT string_agg((t->>'role') || ': ' || (t->>'content'), E'\\n' ORDER BY n) "
    "FROM jsonb_array_elements(d.transcript) WITH ORDINALITY x(t, n))"
)
# OWASP's list of what a spreadsheet runs as a formula when a cell starts with it: = + - @ tab CR;
# but a phone number in E.164 (+ and digits: our from/to) is data, and stays as it is.
_FORMULA = r"'^[-=+@\t\r]'"
_PHONE = r"'^\+[0-9]+$'"


def _csv_text(expr: str) -> str:
    """A text cell: always quoted (RFC 4180: quotes doubled), empty for NULL; a value a spreadsheet
    would run as a formula gets a leading ' so that it is shown instead."""
    defused = f"CASE WHEN {expr} ~ E{_FORMULA} AND {expr} !~ {_PHONE} THEN chr(39) || {expr} ELSE {expr} END"
    return f"coalesce('\"' || replace({defused}, '\"', '\"\"') || '\"', '')"


def _csv_cell(expr: str, kind: object) -> str:
    if kind is bool:
        return f"CASE WHEN {expr} THEN 'true' ELSE 'false' END"
    if kind is int:
        return f"{expr}::text"
    return _csv_text(expr)


# The whole CSV line, built by Postgres as the NDJSON line is: no per-cell work in Python.
_CSV_CELLS = [_csv_cell(_STORED_AS.get(field.name, f"c.{field.name}"), field.type) for field in _LISTED] + [
    _csv_text(source)
    for source in ("c.device_type", "c.origin_url", "d.visitor_ip::text", _TRANSCRIPT_TEXT, "d.recording_url")
]
_CSV_LINE = f"concat_ws(',', {', '.join(_CSV_CELLS)}) AS line"

Cursor = tuple[datetime, int]  # the last row sent: (started_at, id)
# Which filters an export carries: (channel, agent_id, since, until).
ExportShape = tuple[bool, bool, bool, bool]


def _where(channel: bool, agent: bool, since: bool, until: bool) -> tuple[str, int]:
    """The filters after $1 (account) and $2/$3 (the keyset cursor); and the last parameter's number."""
    where = ["c.account_id = $1", "(c.started_at, c.id) > ($2, $3)"]
    n = 3
    for present, condition in (
        (agent, "c.agent_id = ${}"), (channel, "c.channel = ${}"),
        (since, "c.started_at >= ${}"), (until, "c.started_at < ${}"),
    ):  # fmt: skip
        if present:
            n += 1
            where.append(condition.format(n))
    return "\n  AND ".join(where), n


def _export_sql(formatted: str, channel: bool, agent: bool, since: bool, until: bool) -> str:
    """One fixed statement per combination of filters, so each gets a plan of its own; the cursor
    makes every batch one index range scan."""
    conditions, n = _where(channel, agent, since, until)
    return (
        f"SELECT c.started_at, c.id, {formatted}\n"
        "FROM conversations c\nLEFT JOIN conversation_details d ON d.conversation_id = c.id\n"
        f"WHERE {conditions}\nORDER BY c.started_at, c.id\nLIMIT ${n + 1}"
    )


def _count_sql(channel: bool, agent: bool, since: bool, until: bool) -> str:
    """How many rows the export will send (from the start cursor): for a progress bar."""
    conditions, _ = _where(channel, agent, since, until)
    return f"SELECT count(*) FROM conversations c WHERE {conditions}"  # noqa: S608 -- constant filters


_SHAPES: list[ExportShape] = [
    (channel, agent, since, until) for channel, agent, since, until in product((False, True), repeat=4)
]
EXPORT_NDJSON_SQL = {
    shape: _export_sql(f"({conversation_json()})::text AS line", *shape) for shape in _SHAPES
}
EXPORT_CSV_SQL = {shape: _export_sql(_CSV_LINE, *shape) for shape in _SHAPES}
COUNT_EXPORT_SQL = {shape: _count_sql(*shape) for shape in _SHAPES}
# The very first cursor: before every conversation (started_at is NOT NULL, ids start at 1).
START = (datetime.min.replace(tzinfo=UTC), 0)


class ExportFilters(msgspec.Struct, frozen=True):
    """Which conversations: started in [since, until), of one channel and one agent if given."""

    channel: str | None = None
    agent_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def shape(self) -> ExportShape:
        return (
            self.channel is not None,
            self.agent_id is not None,
            self.since is not None,
            self.until is not None,
        )

    def values(self) -> list[object]:
        """The filters' parameters, in the statements' order."""
        return [value for value in (self.agent_id, self.channel, self.since, self.until) if value is not None]


async def export_batch(
    conn: Queryable, csv: bool, account_id: int, after: Cursor, filters: ExportFilters, *, limit: int
) -> list[asyncpg.Record]:
    """Up to `limit` rows after the cursor: (started_at, id, then the line or the CSV columns)."""
    statement = (EXPORT_CSV_SQL if csv else EXPORT_NDJSON_SQL)[filters.shape()]
    return await conn.fetch(statement, account_id, *after, *filters.values(), limit)


async def count_export(conn: Queryable, account_id: int, filters: ExportFilters) -> int:
    """How many conversations the export holds (at this moment)."""
    count: int = await conn.fetchval(COUNT_EXPORT_SQL[filters.shape()], account_id, *START, *filters.values())
    return count
