from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.config import Settings
from shared.db.pool import connect
from shared.db.statement_pool import StatementPool
from shared.errors import Unavailable
from tests.helpers import create_database, eventually

PID_SQL = "SELECT pg_backend_pid()"
SLOW_PID_SQL = "SELECT pg_backend_pid() FROM pg_sleep($1)"
TERMINATE_SQL = "SELECT pg_terminate_backend($1)"


@contextlib.asynccontextmanager
async def open_pool(settings: Settings, size: int, **options: float) -> AsyncIterator[StatementPool]:
    pool = StatementPool(lambda: connect(settings), size, **options)
    await pool.open()
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[StatementPool]:
    async with open_pool(settings, 2) as pool:
        yield pool


async def answering_pid(probe: StatementPool, deadline_s: float = 10.0) -> int:
    """The pool answers again (after a replacement connected); returns the answering backend."""
    pid: int = await eventually(
        lambda: probe.fetchval(PID_SQL), deadline_s, "the pool to answer", retrying=(Unavailable,)
    )
    return pid


RUNNING_SQL = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'PgSleep'"


async def start_sleeper(pool: StatementPool, pg: asyncpg.Pool) -> tuple[int, asyncio.Task[object]]:
    """The backend of a one-connection pool, and a task that keeps it busy for 30 s (once it is)."""
    pid: int = await pool.fetchval(PID_SQL)
    sleeper = asyncio.create_task(pool.fetchval("SELECT pg_sleep(30)"))
    await eventually(lambda: pg.fetchval(RUNNING_SQL, pid), 10, "the sleeping statement to run")
    return pid, sleeper


async def wait_until_none_left(pg: asyncpg.Pool, count_sql: str, arg: object) -> None:
    async def none_left() -> bool:
        return not await pg.fetchval(count_sql, arg)

    await eventually(none_left, 10, f"none left: {count_sql}")


async def test_each_method_runs_one_statement(pool: StatementPool) -> None:
    assert await pool.fetchval("SELECT $1::int + 1", 41) == 42
    assert (await pool.fetchrow("SELECT 1 AS a, 'x' AS b")) == (1, "x")
    assert [tuple(r) for r in await pool.fetch("SELECT g FROM generate_series(1, 3) g")] == [(1,), (2,), (3,)]
    assert await pool.execute("SELECT 1") == "SELECT 1"
    assert await pool.fetchval("SELECT '{\"a\": [1]}'::jsonb") == {"a": [1]}  # the JSON codec is set


async def test_many_callers_share_the_fixed_connections(pool: StatementPool) -> None:
    pids = await asyncio.gather(
        *(pool.fetchval("SELECT pg_backend_pid() FROM pg_sleep(0.01)") for _ in range(40))
    )
    assert len(set(pids)) == 2


async def test_a_refused_statement_leaves_its_connection_in_service(settings: Settings) -> None:
    async with open_pool(settings, 1) as pool:
        before = await pool.fetchval(PID_SQL)
        with pytest.raises(asyncpg.DivisionByZeroError):
            await pool.fetchval("SELECT 1 / 0")
        assert await pool.fetchval(PID_SQL) == before


async def test_cancelled_mid_statement_the_connection_is_replaced(
    settings: Settings, pg: asyncpg.Pool
) -> None:
    async with open_pool(settings, 1) as pool:
        before, sleeper = await start_sleeper(pool, pg)
        sleeper.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sleeper
        after = await answering_pid(pool)
        assert after != before
        # The abandoned backend is gone, not left running its 30 s sleep.
        await wait_until_none_left(pg, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", before)


async def test_a_waiter_cancelled_just_after_being_handed_a_connection_gives_it_back(
    settings: Settings,
) -> None:
    async with open_pool(settings, 1) as pool:
        waiter = None

        async def holder() -> None:
            await pool.fetchval("SELECT pg_sleep(0.2)")
            # Same step as the check-in that handed the connection to the waiter: it has not run yet.
            assert waiter is not None
            waiter.cancel()

        hold = asyncio.create_task(holder())
        await asyncio.sleep(0)  # one turn: its first step checks the only connection out
        waiter = asyncio.create_task(pool.fetchval(PID_SQL))
        await hold
        with pytest.raises(asyncio.CancelledError):
            await waiter
        # Were the connection lost, this would wait for the checkout timeout and raise Unavailable.
        assert await asyncio.wait_for(pool.fetchval("SELECT 7"), 1.0) == 7


async def test_waiting_longer_than_the_checkout_timeout_is_unavailable(settings: Settings) -> None:
    async with open_pool(settings, 1, checkout_timeout_s=0.2) as pool:
        busy = asyncio.create_task(pool.fetchval("SELECT pg_sleep(1)"))
        await asyncio.sleep(0)  # one turn: its first step checks the only connection out
        with pytest.raises(Unavailable):
            await pool.fetchval(PID_SQL)
        await busy
        assert await pool.fetchval("SELECT 1") == 1  # the timed-out waiter took nothing with it


async def test_a_killed_connection_is_unavailable_once_then_replaced(
    pool: StatementPool, pg: asyncpg.Pool
) -> None:
    pids = set(
        await asyncio.gather(
            *(pool.fetchval("SELECT pg_backend_pid() FROM pg_sleep(0.05)") for _ in range(4))
        )
    )
    for pid in pids:
        await pg.fetchval(TERMINATE_SQL, pid)
    failures = 0
    for _ in range(2):
        try:
            await pool.fetchval("SELECT 1")
        except Unavailable:
            failures += 1
    assert failures >= 1
    answering = await answering_pid(pool)
    assert answering not in pids


async def test_a_connection_killed_mid_statement_is_unavailable_and_replaced(
    settings: Settings, pg: asyncpg.Pool
) -> None:
    async with open_pool(settings, 1) as pool:
        victim, sleeper = await start_sleeper(pool, pg)
        await pg.fetchval(TERMINATE_SQL, victim)
        with pytest.raises(Unavailable):  # FATAL 57P01, not the server's error passed through
            await sleeper
        assert await answering_pid(pool) != victim


@contextlib.asynccontextmanager
async def pool_on_own_database(
    settings: Settings, pg: asyncpg.Pool, size: int
) -> AsyncIterator[tuple[str, StatementPool]]:
    """A pool on a database of its own (so it can refuse connections), dropped afterwards."""
    name, url = await create_database(settings.database_url, "statements")
    pool = StatementPool(lambda: asyncpg.connect(url), size)
    await pool.open()
    try:
        yield name, pool
    finally:
        await pool.close()
        await pg.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


async def test_postgres_refusing_connections_fails_fast_then_recovers(
    settings: Settings, pg: asyncpg.Pool
) -> None:
    async with pool_on_own_database(settings, pg, 2) as (name, pool):
        await pg.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        await pg.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        for _ in range(2):  # each connection finds out it is dead
            with pytest.raises(Unavailable):
                await pool.fetchval("SELECT 1")
        started = time.monotonic()
        with pytest.raises(Unavailable):  # nothing connected: no waiting for a checkout timeout
            await pool.fetchval("SELECT 1")
        assert time.monotonic() - started < 1.0
        await pg.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        await answering_pid(pool)


async def test_waiters_hear_at_once_when_the_last_connection_is_lost(
    settings: Settings, pg: asyncpg.Pool
) -> None:
    async with pool_on_own_database(settings, pg, 1) as (name, pool):
        victim, sleeper = await start_sleeper(pool, pg)
        waiter = asyncio.create_task(pool.fetchval("SELECT 1"))
        await pg.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        started = time.monotonic()
        await pg.fetchval(TERMINATE_SQL, victim)
        for task in (sleeper, waiter):
            with pytest.raises(Unavailable):
                await task
        assert time.monotonic() - started < 1.0  # not the 5 s checkout timeout


async def test_close_disconnects_everything_and_refuses_later_statements(
    settings: Settings, pg: asyncpg.Pool
) -> None:
    count_sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1"
    async with pool_on_own_database(settings, pg, 3) as (name, pool):
        assert await pg.fetchval(count_sql, name) == 3
        await pool.close()
        await wait_until_none_left(pg, count_sql, name)
        with pytest.raises(Unavailable):
            await pool.fetchval("SELECT 1")


async def test_open_fails_whole_when_postgres_cannot_be_reached(settings: Settings) -> None:
    url = settings.database_url.rsplit("/", 1)[0] + "/no_such_database"
    pool = StatementPool(lambda: asyncpg.connect(url), 2)
    with pytest.raises(asyncpg.InvalidCatalogNameError):
        await pool.open()
