"""shared/db/pool.py against the test Postgres: JSON through msgspec on every kind of connection,
pools sized by settings, and asyncpg's reset query skipped (an open transaction still rolled back)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.config import Settings
from shared.db.pool import connect, create_pool, create_statement_pool

DOCUMENT = {"faq": {"hours": "9-5"}, "tags": ["a", "b"], "n": 1.5, "none": None}
ROUND_TRIP_SQL = "SELECT $1::jsonb AS b, $1::json AS j"
PID_SQL = "SELECT pg_backend_pid() FROM pg_sleep(0.1)"
ACCOUNTS_SQL = "SELECT count(*) FROM accounts"


async def test_one_connection_round_trips_json_and_jsonb(settings: Settings) -> None:
    conn = await connect(settings)
    try:
        row = await conn.fetchrow(ROUND_TRIP_SQL, DOCUMENT)
        assert row is not None and tuple(row) == (DOCUMENT, DOCUMENT)
        assert await conn.fetchval("SELECT '[1, {\"a\": true}]'::jsonb") == [1, {"a": True}]
    finally:
        await conn.close()


async def test_the_pool_is_sized_by_settings_unless_overridden(settings: Settings) -> None:
    pool = await create_pool(settings)
    try:
        assert (pool.get_min_size(), pool.get_max_size()) == (settings.pg_pool_min, settings.pg_pool_max)
        row = await pool.fetchrow(ROUND_TRIP_SQL, DOCUMENT)
        assert row is not None and tuple(row) == (DOCUMENT, DOCUMENT)
    finally:
        await pool.close()
    small = await create_pool(settings, min_size=1, max_size=1)
    try:
        assert (small.get_min_size(), small.get_max_size()) == (1, 1)
    finally:
        await small.close()


async def test_a_released_connection_keeps_its_session_but_not_its_transaction(settings: Settings) -> None:
    pool = await create_pool(settings, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("SET application_name = 'kept'")
            await conn.execute("BEGIN")
            await conn.execute("INSERT INTO accounts (email, plan) VALUES ('open@example.com', 'growth')")
        async with pool.acquire() as conn:  # the only connection, so the same one
            assert await conn.fetchval("SHOW application_name") == "kept"  # no RESET ALL on release
            assert not conn.is_in_transaction()
            assert await conn.fetchval(ACCOUNTS_SQL) == 0  # the open transaction was rolled back
    finally:
        await pool.close()


async def test_the_statement_pool_opens_every_connection_up_front(settings: Settings) -> None:
    pool = await create_statement_pool(settings)
    try:
        pids = await asyncio.gather(*(pool.fetchval(PID_SQL) for _ in range(2 * settings.pg_pool_max)))
        assert len(set(pids)) == settings.pg_pool_max
        assert await pool.fetchval("SELECT $1::jsonb", DOCUMENT) == DOCUMENT
    finally:
        await pool.close()


async def test_a_value_msgspec_cannot_encode_is_refused(settings: Settings) -> None:
    conn = await connect(settings)
    try:
        # msgspec's message: the codec, not the json module, encoded it.
        with pytest.raises(asyncpg.DataError, match="Encoding objects of type object is unsupported"):
            await conn.fetchval("SELECT $1::jsonb", {"when": object()})
        assert await conn.fetchval("SELECT 1") == 1  # the connection is still usable
    finally:
        await conn.close()
