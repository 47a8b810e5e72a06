"""All SQL that writes `conversations` and `conversation_details` (the worker's upsert)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from shared.db.routing import AgentRoute
from shared.db.webhook_events import conversation_events_sql
from shared.models import ConversationFacts

# The columns of `conversations` the worker writes, each with the type unnest reads its array as.
# account_id and agent_id come from routing; every other one is the ConversationWrite field of the
# same name, so the statement and its arguments both follow from this one mapping.
ROUTE_COLUMNS = {"account_id": "bigint", "agent_id": "bigint"}
CONVERSATION_COLUMNS = {
    "channel": "text", "source": "text", "provider_call_id": "text", "from_number": "text",
    "to_number": "text", "caller_name": "text", "label": "text", "summary": "text",
    "started_at": "timestamptz", "ended_at": "timestamptz", "duration_seconds": "integer",
    "end_reason": "text", "end_reason_raw": "text", "device_type": "text", "origin_url": "text",
    "event_rank": "smallint", "event_at": "timestamptz",
}  # fmt: skip
# The rest of a ConversationWrite goes to `conversation_details` (UPSERT_DETAILS_SQL).
DETAIL_COLUMNS = ("transcript", "recording_url", "visitor_ip", "provider_metadata", "raw_body")
_KEY_COLUMNS = ("source", "provider_call_id")


def _upsert_conversations_sql() -> str:
    """Insert in the batch's order, or update when the event is newer (rank, then time).

    An update stamps the row with this transaction again (change_xid; an insert gets it by default):
    the sync endpoint's order (migration 0005).
    """
    columns = {**ROUTE_COLUMNS, **CONVERSATION_COLUMNS}
    names = ", ".join(columns)
    arrays = ", ".join(f"${n}::{pg_type}[]" for n, pg_type in enumerate(columns.values(), start=1))
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in columns if name not in _KEY_COLUMNS)
    return f"""
INSERT INTO conversations AS c ({names})
SELECT {names}
FROM unnest({arrays}) WITH ORDINALITY AS t({names}, ord)
ORDER BY ord
ON CONFLICT (source, provider_call_id) DO UPDATE SET {updates}, updated_at = now(),
    change_xid = pg_current_xact_id()
WHERE (EXCLUDED.event_rank, EXCLUDED.event_at) > (c.event_rank, c.event_at)
RETURNING id, source, provider_call_id, (xmax = 0) AS inserted
"""  # noqa: S608 -- built once at import from the constant column names above


UPSERT_CONVERSATIONS_SQL = _upsert_conversations_sql()
UPSERT_DETAILS_SQL = """
INSERT INTO conversation_details
    (conversation_id, transcript, recording_url, visitor_ip, provider_metadata, raw_body)
SELECT id, transcript::jsonb, recording_url, visitor_ip, provider_metadata::jsonb, raw_body
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[])
     AS t(id, transcript, recording_url, visitor_ip, provider_metadata, raw_body)
ON CONFLICT (conversation_id) DO UPDATE SET
    transcript = EXCLUDED.transcript, recording_url = EXCLUDED.recording_url,
    visitor_ip = EXCLUDED.visitor_ip, provider_metadata = EXCLUDED.provider_metadata,
    raw_body = EXCLUDED.raw_body
"""
# The outbox (docs/webhooks.md): the same statement also records the rows' webhook events.
UPSERT_DETAILS_AND_EVENTS_SQL = conversation_events_sql(UPSERT_DETAILS_SQL)
# jsonb values travel as JSON text: a list-valued jsonb inside a jsonb[] would read as a dimension.
_json = msgspec.json.Encoder()

Key = tuple[str, str]


class Changed(NamedTuple):
    """A row the upsert wrote: its id, and whether it is new (else an older event was replaced)."""

    id: int
    inserted: bool


class ConversationWrite(ConversationFacts, frozen=True, kw_only=True):
    """One enriched conversation, ready to write: the event's facts (caller_name, label and summary
    filled in by the worker) plus what the worker derives; the owner comes from routing."""

    duration_seconds: int
    end_reason: str  # normalised
    raw_body: bytes

    @property
    def key(self) -> Key:
        """The idempotency key: one conversation per (source, provider call id)."""
        return (self.source, self.provider_call_id)


def newest_per_key(
    rows: Sequence[tuple[AgentRoute, ConversationWrite]],
) -> list[tuple[AgentRoute, ConversationWrite]]:
    """One row per key (a statement may not update a row twice), sorted so batches lock in order."""
    best: dict[Key, tuple[AgentRoute, ConversationWrite]] = {}
    for route, row in rows:
        kept = best.get(row.key)
        if kept is None or (row.event_rank, row.event_at) > (kept[1].event_rank, kept[1].event_at):
            best[row.key] = (route, row)
    return [best[key] for key in sorted(best)]


def _conversation_args(rows: Sequence[tuple[AgentRoute, ConversationWrite]]) -> list[list[Any]]:
    """One array per column of UPSERT_CONVERSATIONS_SQL, in its order."""
    owners = [[route.account_id for route, _ in rows], [route.agent_id for route, _ in rows]]
    return owners + [[getattr(row, name) for _, row in rows] for name in CONVERSATION_COLUMNS]


async def upsert_conversations(
    conn: asyncpg.Connection | PoolConnectionProxy, rows: Sequence[tuple[AgentRoute, ConversationWrite]]
) -> dict[Key, Changed]:
    """Insert or newer-wins update; details follow only the rows that changed. Returns those rows.

    The caller holds the transaction so the two tables (and the webhook outbox, written by the
    details statement) change together. A replayed or older event changes nothing and is not
    returned, so it emits no event (`xmax = 0` tells an insert from an update).
    """
    unique = newest_per_key(rows)
    if not unique:
        return {}
    changed = await conn.fetch(UPSERT_CONVERSATIONS_SQL, *_conversation_args(unique))
    by_key = {row.key: row for _, row in unique}
    written_rows = {(r["source"], r["provider_call_id"]): Changed(r["id"], r["inserted"]) for r in changed}
    ids = {key: row.id for key, row in written_rows.items()}
    written = [by_key[key] for key in ids]
    if written:
        await conn.execute(
            UPSERT_DETAILS_AND_EVENTS_SQL,
            [ids[row.key] for row in written],
            [_json.encode(row.transcript).decode() for row in written],
            [row.recording_url for row in written],
            [row.visitor_ip for row in written],
            [_json.encode(row.provider_metadata).decode() for row in written],
            [row.raw_body for row in written],
            [written_rows[row.key].inserted for row in written],
        )
    return written_rows
