"""The API benchmark's fixtures: embedded Postgres + Valkey, 1M loaded conversations, one API key."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from bench import data
from ops.embedded import ManagedServer, postgres_server, valkey_server
from shared.db.migrate import migrate

BIG_ACCOUNT = 1
# Far above anything wrk can send: the limiter does all its work but never denies.


@dataclass(frozen=True)
class Fixture:
    """What a run needs to know about the loaded database."""

    database_url: str
    redis_url: str
    api_key: str
    agent_id: int  # one of the big account's agents
    since: datetime  # covers about half of the big account's rows


def start_servers(root: Path) -> tuple[ManagedServer, ManagedServer]:
    """Throw-away Postgres (no fsync) and Valkey under root."""
    postgres = postgres_server(root, durable=False)
    valkey = valkey_server(root)
    postgres.start()
    valkey.start()
    return postgres, valkey


async def _median_started_at(conn: asyncpg.Connection) -> datetime:
    """A `since` that keeps roughly the newest half of the big account."""
    since: datetime = await conn.fetchval(
        "SELECT started_at FROM conversations WHERE account_id = $1 ORDER BY started_at DESC, id DESC "
        "OFFSET (SELECT count(*) / 2 FROM conversations WHERE account_id = $1) LIMIT 1",
        BIG_ACCOUNT,
    )
    return since


async def prepare(database_url: str, redis_url: str) -> Fixture:
    """Migrate, load (unless already loaded), and create a key with a limit that never denies."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM conversations)"):
            await data.load(conn)
        key = await data.unlimited_read_key(conn, BIG_ACCOUNT, "bench")
        agent_id: int = await conn.fetchval("SELECT min(id) FROM agents WHERE account_id = $1", BIG_ACCOUNT)
        since = await _median_started_at(conn)
    finally:
        await conn.close()
    return Fixture(database_url, redis_url, key, agent_id, since)


def prepare_sync(database_url: str, redis_url: str) -> Fixture:
    """prepare() from synchronous code."""
    return asyncio.run(prepare(database_url, redis_url))
