"""All SQL for `api_keys`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from shared.db.statement_pool import Queryable
from shared.errors import Conflict, NotFound

INSERT_KEY_SQL = """
INSERT INTO api_keys (account_id, prefix, key_hash, name, scopes, rate_limit_per_min)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id
"""
# Everything the API needs to authenticate and limit a request, in one round trip.
FIND_KEY_BY_HASH_SQL = """
SELECT k.id, k.account_id, k.prefix, k.scopes, k.rate_limit_per_min, k.revoked_at,
       a.email, a.plan
FROM api_keys k
JOIN accounts a ON a.id = k.account_id
WHERE k.key_hash = $1
"""
LIST_KEYS_SQL = """
SELECT id, prefix, name, scopes, rate_limit_per_min, created_at, last_used_at, revoked_at
FROM api_keys
WHERE account_id = $1
ORDER BY id
"""
REVOKE_KEY_SQL = """
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
WHERE id = $1 OR prefix = $2
RETURNING id, account_id, prefix, revoked_at
"""
FIND_KEYS_BY_REF_SQL = "SELECT id FROM api_keys WHERE id = $1 OR prefix = $2"
SET_RATE_LIMIT_SQL = """
UPDATE api_keys SET rate_limit_per_min = $2 WHERE id = $1 OR prefix = $3
RETURNING id, prefix, rate_limit_per_min
"""
# last_used_at is written in batches, never on the request path; never moves backwards.
TOUCH_KEYS_SQL = """
UPDATE api_keys k SET last_used_at = u.used_at
FROM unnest($1::bigint[], $2::timestamptz[]) AS u(id, used_at)
WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.used_at)
"""


async def insert_key(
    conn: Queryable,
    *,
    account_id: int,
    prefix: str,
    key_hash: bytes,
    name: str,
    scopes: Sequence[str],
    rate_limit_per_min: int | None = None,
) -> int:
    """Store a key's hash; a clashing display prefix is a Conflict (the caller draws a new key)."""
    try:
        key_id: int = await conn.fetchval(
            INSERT_KEY_SQL, account_id, prefix, key_hash, name, list(scopes), rate_limit_per_min
        )
    except asyncpg.UniqueViolationError:
        raise Conflict("key prefix already in use") from None
    except asyncpg.ForeignKeyViolationError:
        raise NotFound(f"no account with id {account_id}") from None
    return key_id


async def find_key_by_hash(conn: Queryable, key_hash: bytes) -> asyncpg.Record | None:
    """The key (revoked or not) with its account's email and plan, or None."""
    return await conn.fetchrow(FIND_KEY_BY_HASH_SQL, key_hash)


async def list_keys(conn: Queryable, account_id: int) -> list[asyncpg.Record]:
    """An account's keys, oldest first; never the hash."""
    return await conn.fetch(LIST_KEYS_SQL, account_id)


def _ref(ref: str) -> tuple[int, str]:
    """A key reference is its numeric id or its display prefix."""
    return (int(ref), ref) if ref.isdigit() else (-1, ref)


async def revoke_key(conn: Queryable, ref: str) -> asyncpg.Record:
    """Revoke by id or prefix; idempotent (keeps the first revocation time)."""
    key_id, prefix = _ref(ref)
    row = await conn.fetchrow(REVOKE_KEY_SQL, key_id, prefix)
    if row is None:
        raise NotFound(f"no API key {ref}")
    return row


async def set_rate_limit(conn: Queryable, ref: str, per_min: int | None) -> asyncpg.Record:
    """Set (or clear, with None) a key's per-minute override."""
    key_id, prefix = _ref(ref)
    row = await conn.fetchrow(SET_RATE_LIMIT_SQL, key_id, per_min, prefix)
    if row is None:
        raise NotFound(f"no API key {ref}")
    return row


async def touch_keys(conn: Queryable, used: dict[int, datetime]) -> None:
    """Record last use for many keys in one statement."""
    if used:
        await conn.execute(TOUCH_KEYS_SQL, list(used), list(used.values()))
