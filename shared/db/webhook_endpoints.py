"""All SQL for `webhook_endpoints`: customers' webhook endpoints, always scoped to their account."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

from shared.db.statement_pool import Queryable
from shared.errors import NotFound
from shared.metrics.series import WEBHOOK_ENDPOINTS_DISABLED

log = structlog.get_logger(__name__)

# What the API shows of an endpoint: never its secrets.
ENDPOINT_COLUMNS = (
    "id, url, description, event_types, agent_id, enabled, disabled_reason, created_at, updated_at"
)
INSERT_ENDPOINT_SQL = f"""
INSERT INTO webhook_endpoints (account_id, url, description, event_types, agent_id, secret)
SELECT $1, $2, $3, $4, $5, $6
WHERE $5::bigint IS NULL OR EXISTS (SELECT 1 FROM agents WHERE id = $5 AND account_id = $1)
RETURNING {ENDPOINT_COLUMNS}
"""  # noqa: S608 -- constant columns
LIST_ENDPOINTS_SQL = f"""
SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints
WHERE account_id = $1 AND id > $2
ORDER BY id
LIMIT $3
"""  # noqa: S608 -- constant columns
GET_ENDPOINT_SQL = f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE account_id = $1 AND id = $2"  # noqa: S608
# One statement for every partial update, as agents' PATCH: $3 names the fields sent. Enabling an
# endpoint clears why it was disabled and its failure streak.
UPDATE_ENDPOINT_SQL = f"""
UPDATE webhook_endpoints SET
    url = CASE WHEN 'url' = ANY($3::text[]) THEN $4 ELSE url END,
    description = CASE WHEN 'description' = ANY($3::text[]) THEN $5 ELSE description END,
    event_types = CASE WHEN 'event_types' = ANY($3::text[]) THEN $6 ELSE event_types END,
    agent_id = CASE WHEN 'agent_id' = ANY($3::text[]) THEN $7 ELSE agent_id END,
    enabled = CASE WHEN 'enabled' = ANY($3::text[]) THEN $8 ELSE enabled END,
    disabled_reason = CASE WHEN 'enabled' = ANY($3::text[]) AND $8 THEN NULL ELSE disabled_reason END,
    failing_since = CASE WHEN 'enabled' = ANY($3::text[]) AND $8 THEN NULL ELSE failing_since END,
    updated_at = now()
WHERE account_id = $1 AND id = $2
  AND ($7::bigint IS NULL OR EXISTS (SELECT 1 FROM agents WHERE id = $7 AND account_id = $1))
RETURNING {ENDPOINT_COLUMNS}
"""  # noqa: S608 -- constant columns
UPDATABLE_FIELDS = ("url", "description", "event_types", "agent_id", "enabled")
DELETE_ENDPOINT_SQL = "DELETE FROM webhook_endpoints WHERE account_id = $1 AND id = $2 RETURNING id"
# The old secret keeps signing (beside the new one) for $4 seconds, as Standard Webhooks allows.
ROTATE_SECRET_SQL = """
UPDATE webhook_endpoints SET
    previous_secret = secret, secret = $3,
    previous_secret_expires_at = now() + make_interval(secs => $4), updated_at = now()
WHERE account_id = $1 AND id = $2
RETURNING previous_secret_expires_at
"""  # noqa: S105 -- SQL, not a password
# Operators' view (`ringready webhooks disabled`), newest disable first; $1 NULL: every account.
LIST_DISABLED_SQL = """
SELECT id, account_id, url, disabled_reason, failing_since, disabled_at FROM webhook_endpoints
WHERE NOT enabled AND ($1::bigint IS NULL OR account_id = $1)
ORDER BY disabled_at DESC NULLS LAST, id DESC
"""
ENDPOINT_ACCOUNT_SQL = "SELECT account_id FROM webhook_endpoints WHERE id = $1"


async def insert_endpoint(
    conn: Queryable,
    account_id: int,
    *,
    url: str,
    secret: str,
    description: str = "",
    event_types: Sequence[str] = (),
    agent_id: int | None = None,
) -> asyncpg.Record:
    """A new endpoint (ENDPOINT_COLUMNS); NotFound if agent_id is not one of the account's agents."""
    row = await conn.fetchrow(
        INSERT_ENDPOINT_SQL, account_id, url, description, list(event_types), agent_id, secret
    )
    if row is None:
        raise NotFound("agent_id: no such agent")
    return row


async def list_endpoints(
    conn: Queryable, account_id: int, *, after_id: int, limit: int
) -> list[asyncpg.Record]:
    """Up to `limit` endpoints, oldest first, after the cursor."""
    return await conn.fetch(LIST_ENDPOINTS_SQL, account_id, after_id, limit)


async def get_endpoint(conn: Queryable, account_id: int, endpoint_id: int) -> asyncpg.Record | None:
    """One endpoint, or None if missing or another account's."""
    return await conn.fetchrow(GET_ENDPOINT_SQL, account_id, endpoint_id)


async def update_endpoint(
    conn: Queryable, account_id: int, endpoint_id: int, fields: Sequence[str], values: Mapping[str, object]
) -> asyncpg.Record | None:
    """Write the named fields; None if the endpoint (or the agent named) is missing or not theirs."""
    unknown = set(fields) - set(UPDATABLE_FIELDS)
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    args = [values.get(name) for name in UPDATABLE_FIELDS]
    return await conn.fetchrow(UPDATE_ENDPOINT_SQL, account_id, endpoint_id, list(fields), *args)


async def delete_endpoint(conn: Queryable, account_id: int, endpoint_id: int) -> bool:
    """Delete it with its delivery log; False if missing or not theirs."""
    return await conn.fetchval(DELETE_ENDPOINT_SQL, account_id, endpoint_id) is not None


async def rotate_secret(
    conn: Queryable, account_id: int, endpoint_id: int, new_secret: str, overlap_s: float
) -> datetime | None:
    """Sign with new_secret from now on, and with the old one too until the time returned; None if
    the endpoint is missing or not theirs."""
    expires_at: datetime | None = await conn.fetchval(
        ROTATE_SECRET_SQL, account_id, endpoint_id, new_secret, overlap_s
    )
    return expires_at


async def list_disabled(conn: Queryable, account_id: int | None = None) -> list[asyncpg.Record]:
    """Every disabled endpoint (LIST_DISABLED_SQL's columns), or one account's."""
    return await conn.fetch(LIST_DISABLED_SQL, account_id)


async def enable_endpoint(conn: asyncpg.Connection, endpoint_id: int) -> asyncpg.Record | None:
    """Enable it as the API's PATCH {"enabled": true} does (its reason and failure streak cleared),
    for whichever account owns it; None if there is no such endpoint."""
    async with conn.transaction():
        account_id: int | None = await conn.fetchval(ENDPOINT_ACCOUNT_SQL, endpoint_id)
        if account_id is None:
            return None
        return await update_endpoint(conn, account_id, endpoint_id, ["enabled"], {"enabled": True})


async def note_disabled(conn: Queryable | PoolConnectionProxy, endpoint_id: int) -> None:
    """Log and count an endpoint the failure window just disabled (the account's notice is already
    in the outbox: migration 0004's trigger wrote it with the disable). Never the URL: it may hold
    credentials in its query."""
    account_id = await conn.fetchval(ENDPOINT_ACCOUNT_SQL, endpoint_id)
    WEBHOOK_ENDPOINTS_DISABLED.labels("failure_window").inc()
    log.warning("webhook_endpoint_disabled", account_id=account_id, endpoint_id=endpoint_id)
