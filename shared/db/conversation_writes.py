"""All SQL that writes `conversations` and `conversation_details` (the worker's upsert)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from shared.db.routing import AgentRoute
from shared.models import Turn

UPSERT_CONVERSATIONS_SQL = """
INSERT INTO conversations AS c (
    account_id, agent_id, channel, source, provider_call_id, from_number, to_number,
    caller_name, label, summary, started_at, ended_at, duration_seconds, end_reason,
    end_reason_raw, device_type, origin_url, event_rank, event_at)
SELECT
    account_id, agent_id, channel, source, provider_call_id, from_number, to_number,
    caller_name, label, summary, started_at, ended_at, duration_seconds, end_reason,
    end_reason_raw, device_type, origin_url, event_rank, event_at
FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[],
            $12::timestamptz[], $13::integer[], $14::text[], $15::text[], $16::text[],
            $17::text[], $18::smallint[], $19::timestamptz[])
     WITH ORDINALITY AS t(
    account_id, agent_id, channel, source, provider_call_id, from_number, to_number,
    caller_name, label, summary, started_at, ended_at, duration_seconds, end_reason,
    end_reason_raw, device_type, origin_url, event_rank, event_at, ord)
ORDER BY ord
ON CONFLICT (source, provider_call_id) DO UPDATE SET
    account_id = EXCLUDED.account_id, agent_id = EXCLUDED.agent_id,
    channel = EXCLUDED.channel, from_number = EXCLUDED.from_number,
    to_number = EXCLUDED.to_number, caller_name = EXCLUDED.caller_name,
    label = EXCLUDED.label, summary = EXCLUDED.summary, started_at = EXCLUDED.started_at,
    ended_at = EXCLUDED.ended_at, duration_seconds = EXCLUDED.duration_seconds,
    end_reason = EXCLUDED.end_reason, end_reason_raw = EXCLUDED.end_reason_raw,
    device_type = EXCLUDED.device_type, origin_url = EXCLUDED.origin_url,
    event_rank = EXCLUDED.event_rank, event_at = EXCLUDED.event_at, updated_at = now()
WHERE (EXCLUDED.event_rank, EXCLUDED.event_at) > (c.event_rank, c.event_at)
RETURNING id, source, provider_call_id
"""
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
# jsonb values travel as JSON text: a list-valued jsonb inside a jsonb[] would read as a dimension.
_json = msgspec.json.Encoder()

Key = tuple[str, str]


class ConversationWrite(msgspec.Struct, frozen=True, kw_only=True):
    """One enriched conversation, ready to write (the owner comes from routing)."""

    channel: str
    source: str
    provider_call_id: str
    from_number: str | None
    to_number: str | None
    caller_name: str | None
    label: str | None
    summary: str | None
    started_at: datetime
    ended_at: datetime
    duration_seconds: int
    end_reason: str
    end_reason_raw: str | None
    device_type: str | None
    origin_url: str | None
    event_rank: int
    event_at: datetime
    transcript: list[Turn]
    recording_url: str | None
    visitor_ip: str | None
    provider_metadata: dict[str, Any]
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
    fields = (
        "channel", "source", "provider_call_id", "from_number", "to_number", "caller_name",
        "label", "summary", "started_at", "ended_at", "duration_seconds", "end_reason",
        "end_reason_raw", "device_type", "origin_url", "event_rank", "event_at",
    )  # fmt: skip
    owners = [[route.account_id for route, _ in rows], [route.agent_id for route, _ in rows]]
    return owners + [[getattr(row, name) for _, row in rows] for name in fields]


async def upsert_conversations(
    conn: asyncpg.Connection | PoolConnectionProxy, rows: Sequence[tuple[AgentRoute, ConversationWrite]]
) -> set[Key]:
    """Insert or newer-wins update; details follow only the rows that changed. Returns their keys.

    The caller holds the transaction so the two tables change together.
    """
    unique = newest_per_key(rows)
    if not unique:
        return set()
    changed = await conn.fetch(UPSERT_CONVERSATIONS_SQL, *_conversation_args(unique))
    by_key = {row.key: row for _, row in unique}
    ids = {(r["source"], r["provider_call_id"]): r["id"] for r in changed}
    written = [by_key[key] for key in ids]
    if written:
        await conn.execute(
            UPSERT_DETAILS_SQL,
            [ids[row.key] for row in written],
            [_json.encode(row.transcript).decode() for row in written],
            [row.recording_url for row in written],
            [row.visitor_ip for row in written],
            [_json.encode(row.provider_metadata).decode() for row in written],
            [row.raw_body for row in written],
        )
    return set(ids)
