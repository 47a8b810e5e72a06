"""A process's Postgres connections (asyncpg's pool or a StatementPool), JSON codecs set on each."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from shared.config import Settings
from shared.db.statement_pool import StatementPool

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def _encode_text(value: Any) -> str:
    return _encode(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb in and out through msgspec (faster than the json module, same values)."""
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, schema="pg_catalog", encoder=_encode_text, decoder=_decode, format="text"
        )


async def keep_session(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's per-release reset query (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL).

    Nothing here leaves session state behind (locks are xact-scoped, no LISTEN or SET on pooled
    connections) and asyncpg still rolls back an open transaction; what it saves is one round trip
    per release (not measured on its own: docs/BENCHMARKS.md has no figure for it).
    """


COMMAND_TIMEOUT_S = 30


async def connect(settings: Settings, url: str | None = None) -> asyncpg.Connection:
    """One connection set up like the pool's, to `url` (default: the primary, settings.database_url)."""
    conn = await asyncpg.connect(url or settings.database_url, command_timeout=COMMAND_TIMEOUT_S)
    await init_connection(conn)
    return conn


async def create_statement_pool(settings: Settings, url: str | None = None) -> StatementPool:
    """settings.pg_pool_max connections to `url` (default: the primary), all opened now; callers
    own closing it."""
    pool = StatementPool(lambda: connect(settings, url), settings.pg_pool_max)
    await pool.open()
    return pool


async def create_pool(settings: Settings, **overrides: Any) -> asyncpg.Pool:
    """A pool sized by settings; callers own closing it."""
    options: dict[str, Any] = {
        "min_size": settings.pg_pool_min,
        "max_size": settings.pg_pool_max,
        "init": init_connection,
        "reset": keep_session,
        "command_timeout": COMMAND_TIMEOUT_S,
    }
    options.update(overrides)
    pool = await asyncpg.create_pool(settings.database_url, **options)
    if pool is None:  # asyncpg answers None only when an initialised pool is awaited again
        raise RuntimeError("asyncpg.create_pool returned no pool")
    return pool
