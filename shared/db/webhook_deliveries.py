"""All SQL for `webhook_deliveries` and `webhook_attempts` on the worker's side: fan events out to
endpoints, lease the due deliveries to jobs, and record every attempt (docs/webhooks.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.db.webhook_endpoints import note_disabled

Conn = asyncpg.Connection | PoolConnectionProxy

# One dispatcher at a time across all worker processes: it keeps fan-out in commit order.
DISPATCH_LOCK_SQL = "SELECT pg_try_advisory_xact_lock(0x52525748)"  # "RRWH"
# Each undispatched event becomes one delivery per matching endpoint (a test event: its endpoint).
FAN_OUT_SQL = """
WITH claimed AS (
    SELECT id, account_id, type, agent_id, subject, endpoint_id FROM webhook_events
    WHERE dispatched_at IS NULL ORDER BY id LIMIT $1
), fanned AS (
    INSERT INTO webhook_deliveries (event_id, endpoint_id, subject)
    SELECT e.id, w.id, e.subject
    FROM claimed e JOIN webhook_endpoints w ON w.account_id = e.account_id AND w.enabled
    WHERE CASE WHEN e.endpoint_id IS NOT NULL THEN w.id = e.endpoint_id
          ELSE (cardinality(w.event_types) = 0 OR e.type = ANY(w.event_types))
               AND (w.agent_id IS NULL OR w.agent_id = e.agent_id) END
    ORDER BY e.id, w.id
    ON CONFLICT DO NOTHING
)
UPDATE webhook_events SET dispatched_at = now() WHERE id IN (SELECT id FROM claimed)
"""
# Re-checked on the row being leased, so a job's lease_next and a pass racing for it lease it once.
_UNLEASED = "(d.leased_until IS NULL OR d.leased_until <= now())"
# Per enabled endpoint, the oldest due deliveries, as many as its cap leaves room for; a delivery
# waits while an earlier one of the same subject (conversation, agent) to that endpoint is pending.
LEASE_DUE_SQL = f"""
WITH due AS (
    SELECT x.id
    FROM webhook_endpoints w
    CROSS JOIN LATERAL (
        SELECT count(*) AS n FROM webhook_deliveries b
        WHERE b.endpoint_id = w.id AND b.status = 'pending' AND b.leased_until IS NOT NULL
          AND b.leased_until > now()
    ) busy
    CROSS JOIN LATERAL (
        SELECT d.id FROM webhook_deliveries d
        WHERE d.endpoint_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= now()
          AND (d.leased_until IS NULL OR d.leased_until <= now())
          -- the subject's first pending one: a scalar subquery, so one index probe per row
          -- whatever the statistics say (an anti-join planned blind was quadratic)
          AND d.event_id = (
              SELECT min(p.event_id) FROM webhook_deliveries p
              WHERE p.endpoint_id = d.endpoint_id AND p.subject = d.subject AND p.status = 'pending')
        ORDER BY d.event_id
        LIMIT greatest($2 - busy.n, 0)
    ) x
    WHERE w.enabled
)
UPDATE webhook_deliveries d SET leased_until = now() + make_interval(secs => $1)
FROM due WHERE d.id = due.id AND {_UNLEASED}
RETURNING d.id, d.attempts
"""  # noqa: S608 -- built once at import from constants
_TO_SEND = """
SELECT d.id, d.status, d.attempts, e.event_id, e.payload::text AS body, w.id AS endpoint_id, w.url,
       w.secret, CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END AS previous_secret
FROM webhook_deliveries d
JOIN webhook_events e ON e.id = d.event_id
JOIN webhook_endpoints w ON w.id = d.endpoint_id
"""
# What a delivery job needs; status and attempts say whether the lease is still its own.
DELIVERY_TO_SEND_SQL = _TO_SEND + "WHERE d.id = $1"
# A job keeping its lane: the endpoint's next due delivery (the same rules as a pass), leased to it,
# as DELIVERY_TO_SEND_SQL reads it (this statement's snapshot predates only the lease).
LEASE_NEXT_SQL = f"""
WITH next AS (
    SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.enabled
    WHERE d.endpoint_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= now() AND {_UNLEASED}
      AND d.event_id = (
          SELECT min(p.event_id) FROM webhook_deliveries p
          WHERE p.endpoint_id = d.endpoint_id AND p.subject = d.subject AND p.status = 'pending')
    ORDER BY d.event_id
    LIMIT 1
    FOR UPDATE OF d SKIP LOCKED
), leased AS (
    UPDATE webhook_deliveries d SET leased_until = now() + make_interval(secs => $2)
    FROM next WHERE d.id = next.id AND {_UNLEASED}
    RETURNING d.id
)
{_TO_SEND}WHERE d.id = (SELECT id FROM leased)
"""  # noqa: S608 -- built once at import from constants
ASYNC_COMMIT_SQL = "SET LOCAL synchronous_commit = off"
# One statement (one transaction) per attempt: settle the delivery if the lease is still the
# caller's (attempts unchanged since it read them: a duplicate run records nothing), log the
# attempt, and run the endpoint's failure streak. $3 the new status, $4 when to try again,
# $5-$9 the attempt, $10 whether it succeeded, $11 the failure window in seconds, $12 the failure
# in words. The endpoint row is written only when its streak starts, ends or disables it.
# synchronous_commit off (for this transaction only): a commit lost in a Postgres crash only means
# the attempt is made again (same webhook-id, which receivers deduplicate); waiting for the fsync
# capped deliveries at the disk's commit rate.
RECORD_ATTEMPT_SQL = """
WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true)),
settled AS (
    UPDATE webhook_deliveries SET
        status = $3, attempts = attempts + 1, next_attempt_at = coalesce($4, next_attempt_at),
        leased_until = NULL, updated_at = now()
    WHERE id = $1 AND attempts = $2 AND status = 'pending' AND EXISTS (SELECT FROM async_commit)
    RETURNING endpoint_id
),
logged AS (
    INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, latency_ms, response_body, error)
    SELECT $1, $5, $6, $7, $8, $9 FROM settled
),
endpoint AS (
    UPDATE webhook_endpoints w SET
        failing_since = CASE WHEN $10 THEN NULL ELSE coalesce(w.failing_since, now()) END,
        enabled = $10 OR coalesce(w.failing_since, now()) > now() - make_interval(secs => $11),
        disabled_reason = CASE WHEN NOT $10 AND w.failing_since <= now() - make_interval(secs => $11)
            THEN 'every delivery since ' || utc_iso8601(w.failing_since) || ' failed; last: ' || $12
            ELSE w.disabled_reason END,
        updated_at = now()
    FROM settled
    WHERE w.id = settled.endpoint_id AND w.enabled
      AND CASE WHEN $10 THEN w.failing_since IS NOT NULL
          ELSE w.failing_since IS NULL OR w.failing_since <= now() - make_interval(secs => $11) END
    RETURNING w.enabled
)
SELECT settled.endpoint_id, coalesce((SELECT enabled FROM endpoint), true) AS enabled FROM settled
"""
# A disabled endpoint's pending deliveries fail now; they can be recovered once it is re-enabled.
FAIL_PENDING_SQL = """
UPDATE webhook_deliveries SET status = 'failed', leased_until = NULL, updated_at = now()
WHERE endpoint_id = $1 AND status = 'pending'
"""
# Retention (docs/webhooks.md): events, their deliveries and attempts go after RETENTION_DAYS, in
# bounded batches so one pass never holds locks for long.
RETENTION_DAYS = 30
PRUNE_SQL = """
DELETE FROM webhook_events WHERE id IN (
    SELECT id FROM webhook_events WHERE created_at < now() - make_interval(days => $1) ORDER BY id LIMIT $2
)
"""


@dataclass(frozen=True)
class Attempt:
    """One try at one delivery, as the log keeps it."""

    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    response_body: str
    error: str | None


async def dispatch(
    conn: Conn, *, fan_out_limit: int, lease_s: float, per_endpoint: int
) -> list[asyncpg.Record]:
    """Fan new events out and lease what is due: (id, attempts) rows to enqueue; [] if another
    process is dispatching right now."""
    async with conn.transaction():
        if not await conn.fetchval(DISPATCH_LOCK_SQL):
            return []
        # A pass lost in a Postgres crash is simply made again (fan-out is idempotent, leases expire).
        await conn.execute(ASYNC_COMMIT_SQL)
        await conn.execute(FAN_OUT_SQL, fan_out_limit)
        return await conn.fetch(LEASE_DUE_SQL, lease_s, per_endpoint)


async def lease_next(conn: Conn, endpoint_id: int, lease_s: float) -> asyncpg.Record | None:
    """The endpoint's next due delivery, leased to the caller, as delivery_to_send reads it; None if
    none is due."""
    return await conn.fetchrow(LEASE_NEXT_SQL, endpoint_id, lease_s)


async def delivery_to_send(conn: Conn, delivery_id: int) -> asyncpg.Record | None:
    """The delivery with its event's body and its endpoint's URL and valid secrets."""
    return await conn.fetchrow(DELIVERY_TO_SEND_SQL, delivery_id)


async def record_attempt(
    conn: Conn,
    delivery_id: int,
    attempts_before: int,
    attempt: Attempt,
    *,
    retry_at: datetime | None,
    disable_after_s: float,
) -> bool:
    """Log the attempt and settle the delivery: succeeded (2xx), pending until retry_at, or failed.

    A failure also runs the endpoint's failure window. False when the lease was not this job's."""
    succeeded = attempt.status_code is not None and 200 <= attempt.status_code < 300
    status = "succeeded" if succeeded else ("pending" if retry_at is not None else "failed")
    settled = await conn.fetchrow(
        RECORD_ATTEMPT_SQL, delivery_id, attempts_before, status, retry_at,
        attempt.attempted_at, attempt.status_code, attempt.latency_ms, attempt.response_body, attempt.error,
        succeeded, disable_after_s, _reason(attempt),
    )  # fmt: skip
    if settled is None:
        return False
    if not settled["enabled"]:  # this failure disabled the endpoint (rare: not worth a transaction)
        await conn.execute(FAIL_PENDING_SQL, settled["endpoint_id"])
        await note_disabled(conn, settled["endpoint_id"])
    return True


def _reason(attempt: Attempt) -> str:
    """The last failure, in words, for disabled_reason."""
    if attempt.status_code is not None:
        return f"HTTP {attempt.status_code}"
    return attempt.error or "no answer"


async def prune(conn: Conn, *, older_than_days: int = RETENTION_DAYS, batch: int = 5000) -> int:
    """Delete up to `batch` events past retention (their log goes with them); how many went."""
    status: str = await conn.execute(PRUNE_SQL, older_than_days, batch)
    return int(status.rsplit(" ", 1)[1])
