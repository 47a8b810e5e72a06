"""`ringready keys create|list|revoke|update`: the key is printed once; the database keeps its hash."""

from __future__ import annotations

import argparse
import sys

import asyncpg
from redis.exceptions import RedisError

from ops.cli.admin_run import print_rows, resolve_account, run_admin
from shared.config import Settings
from shared.db.api_keys import insert_key, list_keys, revoke_key, set_rate_limit
from shared.db.statement_pool import Queryable
from shared.errors import Conflict
from shared.keys import KEYS_CHANGED_CHANNEL, display_prefix, generate_key, hash_key
from shared.web import redis_client

KEY_ATTEMPTS = 5  # a 4-character display prefix can clash; a fresh draw almost never does twice


async def create_key(
    conn: Queryable,
    *,
    account_id: int,
    name: str,
    scopes: tuple[str, ...],
    rate_limit_per_min: int | None = None,
) -> tuple[int, str]:
    """Draw and store a new key; returns (id, full key). The demo uses it too."""
    for _ in range(KEY_ATTEMPTS - 1):
        key = generate_key()
        try:
            return await _store(conn, key, account_id, name, scopes, rate_limit_per_min), key
        except Conflict:
            continue
    key = generate_key()
    return await _store(conn, key, account_id, name, scopes, rate_limit_per_min), key


async def _store(
    conn: Queryable,
    key: str,
    account_id: int,
    name: str,
    scopes: tuple[str, ...],
    rate: int | None,
) -> int:
    return await insert_key(
        conn,
        account_id=account_id,
        prefix=display_prefix(key),
        key_hash=hash_key(key),
        name=name,
        scopes=scopes,
        rate_limit_per_min=rate,
    )


async def publish_key_change(settings: Settings, key_id: int) -> None:
    """Tell every API process to drop this key from its cache; best effort (the TTL bounds staleness)."""
    client = redis_client(settings, socket_connect_timeout=1, socket_timeout=2, health_check_interval=0)
    try:
        await client.publish(KEYS_CHANGED_CHANNEL, str(key_id))
    except (RedisError, OSError) as err:
        print(f"warning: could not notify API processes ({err}); caches expire within "
              f"{settings.key_cache_ttl_s:g}s", file=sys.stderr)  # fmt: skip
    finally:
        await client.aclose()


def cmd_create(settings: Settings, args: argparse.Namespace) -> int:
    """Create a key and print it exactly once."""

    async def work(conn: asyncpg.Connection, live: Settings) -> int:
        account = await resolve_account(conn, args.account)
        key_id, key = await create_key(
            conn,
            account_id=account["id"],
            name=args.name,
            scopes=args.scopes,
            rate_limit_per_min=args.rate_limit,
        )
        limit = f"{args.rate_limit}/min" if args.rate_limit else f"plan {account['plan']}"
        print(f"Created API key {key_id} ({display_prefix(key)}) for account {account['id']}: "
              f"name {args.name!r}, scopes {','.join(args.scopes)}, rate limit {limit}")  # fmt: skip
        print(key)
        print("Copy it now: it is shown only this once and cannot be recovered.")
        return 0

    return run_admin(settings, work)


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    """An account's keys; never the key or its hash."""

    async def work(conn: asyncpg.Connection, live: Settings) -> int:
        account = await resolve_account(conn, args.account)
        rows = await list_keys(conn, account["id"])
        print_rows([_key_row(row) for row in rows], args.json)
        return 0

    return run_admin(settings, work)


def _key_row(row: asyncpg.Record) -> dict[str, object]:
    return {
        "id": row["id"],
        "prefix": row["prefix"],
        "name": row["name"],
        "scopes": list(row["scopes"]),
        "rate_limit_per_min": row["rate_limit_per_min"],
        "created_at": row["created_at"],
        "last_used_at": row["last_used_at"],
        "revoked_at": row["revoked_at"],
    }


def cmd_revoke(settings: Settings, args: argparse.Namespace) -> int:
    """Revoke by id or prefix (idempotent), then tell the API processes."""

    async def work(conn: asyncpg.Connection, live: Settings) -> int:
        row = await revoke_key(conn, args.ref)
        revoked_at = row["revoked_at"].isoformat(timespec="seconds")
        print(f"Revoked API key {row['id']} ({row['prefix']}) at {revoked_at}")
        await publish_key_change(live, row["id"])
        return 0

    return run_admin(settings, work)


def cmd_update(settings: Settings, args: argparse.Namespace) -> int:
    """Set or clear a key's per-minute override, then tell the API processes."""

    async def work(conn: asyncpg.Connection, live: Settings) -> int:
        row = await set_rate_limit(conn, args.ref, args.rate_limit)
        limit = f"{row['rate_limit_per_min']}/min" if row["rate_limit_per_min"] else "the account's plan"
        print(f"API key {row['id']} ({row['prefix']}) now uses {limit}")
        await publish_key_change(live, row["id"])
        return 0

    return run_admin(settings, work)
