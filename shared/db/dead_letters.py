"""All SQL for `dead_letters`: events kept with their reason and payload until replayed."""

from __future__ import annotations

import asyncpg

from shared.db.statement_pool import Queryable
from shared.queue.job_ids import parse_job_id

# One open row per event (job_id is the event's queue id without any replay suffix): the
# advisory lock makes concurrent copies of the same failing event agree on that row, and a
# replay that fails again re-opens it instead of adding another.
LOCK_EVENT_SQL = "SELECT pg_advisory_xact_lock(hashtext($1))"
REOPEN_DEAD_LETTER_SQL = """
UPDATE dead_letters
SET reason = $2, detail = $3, payload = $4, replayed_at = NULL
WHERE id = (SELECT id FROM dead_letters WHERE job_id = $1 ORDER BY id DESC LIMIT 1)
RETURNING id
"""
INSERT_DEAD_LETTER_SQL = """
INSERT INTO dead_letters (job_id, source, provider_call_id, reason, detail, payload)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id
"""
LIST_DEAD_LETTERS_SQL = """
SELECT id, job_id, source, provider_call_id, reason, detail, created_at, replayed_at, replay_count
FROM dead_letters
WHERE $1 OR replayed_at IS NULL
ORDER BY id
LIMIT $2
"""
CLAIM_FOR_REPLAY_SQL = """
UPDATE dead_letters SET replayed_at = now(), replay_count = replay_count + 1
WHERE id = $1
RETURNING id, payload, replay_count
"""
OPEN_IDS_SQL = "SELECT id FROM dead_letters WHERE replayed_at IS NULL ORDER BY id"


async def insert_dead_letter(
    pool: asyncpg.Pool,
    *,
    job_id: str,
    source: str,
    provider_call_id: str | None,
    reason: str,
    detail: str,
    payload: bytes,
) -> int:
    """Record an event that could not be stored; the same event keeps one row."""
    job_id, source, detail = _text(job_id), _text(source), _text(detail)
    call_id = None if provider_call_id is None else _text(provider_call_id)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(LOCK_EVENT_SQL, job_id)
        reopened: int | None = await conn.fetchval(REOPEN_DEAD_LETTER_SQL, job_id, reason, detail, payload)
        if reopened is not None:
            return reopened
        new_id: int = await conn.fetchval(
            INSERT_DEAD_LETTER_SQL, job_id, source, call_id, reason, detail, payload
        )
        return new_id


async def insert_job_dead_letter(
    pool: asyncpg.Pool, job_id: str, *, reason: str, detail: str, payload: bytes
) -> int:
    """A job whose event cannot be read (undecodable, expired): keep it under what its id tells."""
    parts = parse_job_id(job_id)
    return await insert_dead_letter(
        pool,
        job_id=job_id,
        source=parts.source if parts else "unknown",
        provider_call_id=parts.provider_call_id if parts else None,
        reason=reason,
        detail=detail,
        payload=payload,
    )


def _text(value: str) -> str:
    """Postgres text cannot hold NUL: a dead letter must be writable whatever the event held (ingest
    replaces NUL since #11, but jobs queued before that, or by other producers, may still carry it)."""
    return value.replace("\x00", "\ufffd")


async def list_dead_letters(
    conn: Queryable, *, include_replayed: bool = False, limit: int = 1000
) -> list[asyncpg.Record]:
    """Dead letters oldest first; open ones only unless asked."""
    return await conn.fetch(LIST_DEAD_LETTERS_SQL, include_replayed, limit)


async def open_dead_letter_ids(conn: Queryable) -> list[int]:
    """Ids of the dead letters not yet replayed."""
    return [row["id"] for row in await conn.fetch(OPEN_IDS_SQL)]


async def claim_for_replay(conn: asyncpg.Connection, dead_letter_id: int) -> asyncpg.Record | None:
    """Mark one dead letter replayed (in the caller's transaction); its payload, or None."""
    return await conn.fetchrow(CLAIM_FOR_REPLAY_SQL, dead_letter_id)
