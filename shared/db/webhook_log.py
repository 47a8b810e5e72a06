"""The delivery log as the Developer API reads and replays it: `webhook_deliveries` with their
events and attempts, always through an endpoint of the caller's account."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from shared.db.statement_pool import Queryable

DELIVERY_COLUMNS = """d.id, e.event_id, e.type AS event_type, d.status, d.attempts,
       CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at,
       d.created_at, d.updated_at"""
# Newest first; $3 an optional status, $4 an optional cursor (the previous page's last id).
LIST_DELIVERIES_SQL = f"""
SELECT {DELIVERY_COLUMNS}
FROM webhook_deliveries d
JOIN webhook_endpoints w ON w.id = d.endpoint_id
JOIN webhook_events e ON e.id = d.event_id
WHERE w.account_id = $1 AND d.endpoint_id = $2
  AND ($3::text IS NULL OR d.status = $3) AND ($4::bigint IS NULL OR d.id < $4)
ORDER BY d.id DESC
LIMIT $5
"""  # noqa: S608 -- constant columns
GET_DELIVERY_SQL = f"""
SELECT {DELIVERY_COLUMNS}, d.endpoint_id, e.payload,
       coalesce((SELECT json_agg(json_build_object(
                    'attempted_at', utc_iso8601(a.attempted_at), 'status_code', a.status_code,
                    'latency_ms', a.latency_ms, 'response_body', a.response_body, 'error', a.error)
                 ORDER BY a.id)
                 FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]'::json) AS attempt_log
FROM webhook_deliveries d
JOIN webhook_endpoints w ON w.id = d.endpoint_id
JOIN webhook_events e ON e.id = d.event_id
WHERE w.account_id = $1 AND d.id = $2
"""  # noqa: S608 -- constant columns
# Due now, whatever its state, unless a job holds it right now. 'busy' when one does.
RETRY_DELIVERY_SQL = """
WITH target AS (
    SELECT d.id, d.leased_until > now() AS busy
    FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
    WHERE w.account_id = $1 AND d.id = $2
), retried AS (
    UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = now(), updated_at = now()
    FROM target WHERE d.id = target.id AND target.busy IS NOT TRUE
    RETURNING d.id
)
SELECT CASE WHEN EXISTS (SELECT 1 FROM retried) THEN 'retried'
            WHEN EXISTS (SELECT 1 FROM target) THEN 'busy' END
"""
# Every failed delivery of the endpoint whose event was created at or after $3.
RECOVER_SQL = """
WITH recovered AS (
    UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = now(), updated_at = now()
    FROM webhook_endpoints w
    WHERE w.id = d.endpoint_id AND w.account_id = $1 AND d.endpoint_id = $2
      AND d.status = 'failed' AND d.created_at >= $3
    RETURNING d.id
)
SELECT count(*) FROM recovered
"""


async def list_deliveries(
    conn: Queryable,
    account_id: int,
    endpoint_id: int,
    *,
    status: str | None,
    before_id: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Up to `limit` deliveries of the endpoint, newest first, before the cursor."""
    return await conn.fetch(LIST_DELIVERIES_SQL, account_id, endpoint_id, status, before_id, limit)


async def get_delivery(conn: Queryable, account_id: int, delivery_id: int) -> asyncpg.Record | None:
    """One delivery with its event's payload and every attempt (attempt_log), or None if not theirs."""
    return await conn.fetchrow(GET_DELIVERY_SQL, account_id, delivery_id)


async def retry_delivery(conn: Queryable, account_id: int, delivery_id: int) -> str | None:
    """Make it due now: 'retried', 'busy' (a job holds it now), or None if missing or not theirs."""
    outcome: str | None = await conn.fetchval(RETRY_DELIVERY_SQL, account_id, delivery_id)
    return outcome


async def recover_failed(conn: Queryable, account_id: int, endpoint_id: int, since: datetime) -> int:
    """Make every failed delivery of the endpoint since `since` due now; how many."""
    count: int = await conn.fetchval(RECOVER_SQL, account_id, endpoint_id, since)
    return count
