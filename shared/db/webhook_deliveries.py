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
# Re-checked on the row being leased, so a job's lane and a pass racing for it lease it once.
_UNLEASED = "(d.leased_until IS NULL OR d.leased_until <= now())"
# Delivery d can be leased: pending, due, not leased, and its subject's first pending one at its
# endpoint (a scalar subquery, so one index probe per row whatever the statistics say: an anti-join
# planned blind was quadratic).
_DUE = f"""d.status = 'pending' AND d.next_attempt_at <= now() AND {_UNLEASED}
          AND d.event_id = (
              SELECT min(p.event_id) FROM webhook_deliveries p
              WHERE p.endpoint_id = d.endpoint_id AND p.subject = d.subject AND p.status = 'pending')"""  # noqa: S608
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
        WHERE d.endpoint_id = w.id AND {_DUE}
        ORDER BY d.event_id
        LIMIT greatest($2 - busy.n, 0)
    ) x
    WHERE w.enabled
)
UPDATE webhook_deliveries d SET leased_until = now() + make_interval(secs => $1)
FROM due WHERE d.id = due.id AND {_UNLEASED}
RETURNING d.id, d.attempts, d.endpoint_id
"""  # noqa: S608 -- built once at import from constants
_TO_SEND = """
SELECT d.id, d.status, d.attempts, d.updated_at, e.event_id, e.payload::text AS body, w.url, w.secret,
       w.id AS endpoint_id,
       CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END AS previous_secret
FROM webhook_deliveries d
JOIN webhook_events e ON e.id = d.event_id
JOIN webhook_endpoints w ON w.id = d.endpoint_id
"""
# What a delivery job needs, for those of its deliveries still pending with the attempt count it
# was enqueued with (the lease is still its own; a duplicate run finds none).
DELIVERIES_TO_SEND_SQL = (
    _TO_SEND + "JOIN unnest($1::bigint[], $2::int[]) AS held(id, attempts) ON held.id = d.id "
    "AND held.attempts = d.attempts WHERE d.status = 'pending'"
)
ASYNC_COMMIT_SQL = "SET LOCAL synchronous_commit = off"
# A round of a job's lane in one statement (one round trip, one transaction): its attempts as arrays
# $1-$9, one element each. A delivery is settled and its attempt logged only if it is as the caller
# read it (attempts unchanged: a duplicate run records nothing; updated_at unchanged: an operator's
# retry or recover meanwhile is not taken for this attempt, whose lease just goes). Each endpoint's
# failure streak runs ($10 the window in seconds); a round's attempts are concurrent, so one success
# ends it. Then as many of endpoint $11's due deliveries as were settled, at most $13, are leased
# for $12 s: the lane's slots are never seen free, so a pass never hands them out too (the cap
# holds). The snapshot still shows the settled ones pending: their subjects' next ones wait a round
# (order holds). synchronous_commit off: see dispatch().
RECORD_AND_LEASE_SQL = f"""
WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true)),
attempt AS (
    SELECT *, CASE WHEN status_code BETWEEN 200 AND 299 THEN 'succeeded'
                   WHEN retry_at IS NOT NULL THEN 'pending' ELSE 'failed' END AS status,
              CASE WHEN status_code IS NULL THEN coalesce(error, 'no answer')
                   ELSE 'HTTP ' || status_code END AS reason  -- for disabled_reason
    FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::timestamptz[], $5::int[], $6::int[],
                $7::text[], $8::text[], $9::timestamptz[])
        AS a(delivery_id, attempts_before, retry_at, attempted_at, status_code, latency_ms, response_body,
             error, updated_before)
),
settled AS (
    UPDATE webhook_deliveries d SET
        status = a.status, attempts = d.attempts + 1, leased_until = NULL, updated_at = now(),
        next_attempt_at = coalesce(a.retry_at, d.next_attempt_at)
    FROM attempt a
    WHERE d.id = a.delivery_id AND d.attempts = a.attempts_before AND d.status = 'pending'
      AND d.updated_at = a.updated_before AND EXISTS (SELECT FROM async_commit)
    RETURNING d.id, d.endpoint_id, a.status = 'succeeded' AS succeeded, a.attempted_at, a.reason
),
released AS (
    UPDATE webhook_deliveries d SET leased_until = NULL
    FROM attempt a WHERE d.id = a.delivery_id AND d.attempts = a.attempts_before
      AND (d.status <> 'pending' OR d.updated_at <> a.updated_before)
),
logged AS (
    INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, latency_ms, response_body, error)
    SELECT a.delivery_id, a.attempted_at, a.status_code, a.latency_ms, a.response_body, a.error
    FROM attempt a JOIN settled s ON s.id = a.delivery_id
    ORDER BY a.attempted_at, a.delivery_id
),
outcome AS (
    SELECT endpoint_id, bool_or(succeeded) AS succeeded,
           (array_agg(reason ORDER BY attempted_at DESC) FILTER (WHERE NOT succeeded))[1] AS reason
    FROM settled GROUP BY endpoint_id
),
endpoint AS (
    UPDATE webhook_endpoints w SET
        failing_since = CASE WHEN o.succeeded THEN NULL ELSE coalesce(w.failing_since, now()) END,
        enabled = o.succeeded OR coalesce(w.failing_since, now()) > now() - make_interval(secs => $10),
        disabled_reason = CASE WHEN NOT o.succeeded AND w.failing_since <= now() - make_interval(secs => $10)
            THEN 'every delivery since ' || utc_iso8601(w.failing_since) || ' failed; last: ' || o.reason
            ELSE w.disabled_reason END,
        updated_at = now()
    FROM outcome o
    WHERE w.id = o.endpoint_id AND w.enabled
      AND CASE WHEN o.succeeded THEN w.failing_since IS NOT NULL
          ELSE w.failing_since IS NULL OR w.failing_since <= now() - make_interval(secs => $10) END
    RETURNING w.id, w.enabled
),
next AS (
    SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.enabled
    WHERE d.endpoint_id = $11 AND {_DUE}
      AND NOT EXISTS (SELECT FROM endpoint WHERE endpoint.id = $11 AND NOT endpoint.enabled)
    ORDER BY d.event_id
    LIMIT least($13, (SELECT count(*) FROM settled))
    FOR UPDATE OF d SKIP LOCKED
),
leased AS (
    UPDATE webhook_deliveries d SET leased_until = now() + make_interval(secs => $12)
    FROM next WHERE d.id = next.id AND {_UNLEASED}
    RETURNING d.id
)
SELECT summary.recorded, summary.disabled, sendable.*
FROM (SELECT (SELECT array_agg(id) FROM settled) AS recorded,
             (SELECT array_agg(id) FROM endpoint WHERE NOT enabled) AS disabled) summary
LEFT JOIN ({_TO_SEND}WHERE d.id IN (SELECT id FROM leased)) sendable ON true
"""  # noqa: S608 -- built once at import from constants
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

    @property
    def succeeded(self) -> bool:
        """Any 2xx."""
        return self.status_code is not None and 200 <= self.status_code < 300


Attempted = tuple[asyncpg.Record, Attempt, datetime | None]  # a delivery, its attempt, when to retry


async def dispatch(
    conn: Conn, *, fan_out_limit: int, lease_s: float, per_endpoint: int
) -> list[asyncpg.Record]:
    """Fan new events out and lease what is due: (id, attempts, endpoint_id) rows; [] if another
    process is dispatching right now."""
    async with conn.transaction():
        if not await conn.fetchval(DISPATCH_LOCK_SQL):
            return []
        # synchronous_commit off (for this transaction only, as for recording attempts): a pass lost
        # in a Postgres crash is made again (fan-out is idempotent, leases expire), an attempt whose
        # record is lost is made again (same webhook-id, which receivers deduplicate); waiting for
        # the fsync capped deliveries at the disk's commit rate.
        await conn.execute(ASYNC_COMMIT_SQL)
        await conn.execute(FAN_OUT_SQL, fan_out_limit)
        return await conn.fetch(LEASE_DUE_SQL, lease_s, per_endpoint)


async def deliveries_to_send(
    conn: Conn, delivery_ids: list[int], attempts: list[int]
) -> list[asyncpg.Record]:
    """Those of the deliveries still pending at these attempt counts, with their event's body and
    their endpoint's URL and valid secrets."""
    return await conn.fetch(DELIVERIES_TO_SEND_SQL, delivery_ids, attempts)


async def record_attempts(
    conn: Conn,
    attempted: list[Attempted],
    *,
    disable_after_s: float,
    lease_s: float | None = None,
) -> tuple[set[int], list[asyncpg.Record]]:
    """One round of a lane (every delivery one endpoint's): RECORD_AND_LEASE_SQL, leasing only with
    lease_s. The ids recorded and the deliveries leased, as deliveries_to_send reads them."""
    rows = [
        (d["id"], d["attempts"], retry_at, a.attempted_at, a.status_code, a.latency_ms, a.response_body,
         a.error, d["updated_at"])
        for d, a, retry_at in attempted
    ]  # fmt: skip
    endpoint_id = attempted[0][0]["endpoint_id"]
    lease_at_most = 0 if lease_s is None else len(attempted)
    columns = (list(column) for column in zip(*rows, strict=True))
    result = await conn.fetch(
        RECORD_AND_LEASE_SQL, *columns, disable_after_s, endpoint_id, lease_s or 0, lease_at_most
    )
    for disabled in result[0]["disabled"] or ():  # rare: not worth its own statement on the common path
        await conn.execute(FAIL_PENDING_SQL, disabled)
        await note_disabled(conn, disabled)
    return set(result[0]["recorded"] or ()), [row for row in result if row["id"] is not None]


async def prune(conn: Conn, *, older_than_days: int = RETENTION_DAYS, batch: int = 5000) -> int:
    """Delete up to `batch` events past retention (their log goes with them); how many went."""
    status: str = await conn.execute(PRUNE_SQL, older_than_days, batch)
    return int(status.rsplit(" ", 1)[1])
