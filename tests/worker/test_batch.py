"""The Batcher: concurrent items share one write; a bad item fails alone; a transient error fails all."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from msgspec.structs import replace
from structlog.testing import capture_logs

from services.worker.batch import Batcher
from shared.config import Settings
from shared.db.pool import create_pool
from tests.worker.conftest import Agent
from tests.worker.items import make_item

WAIT_S = 0.05


async def _distinct_transactions(pg: asyncpg.Pool) -> int:
    """Rows written by one transaction share its id (xmin)."""
    count: int = await pg.fetchval("SELECT count(DISTINCT xmin::text) FROM conversations")
    return count


async def test_items_within_the_wait_share_one_transaction(pg: asyncpg.Pool, agent: Agent) -> None:
    batcher = Batcher(pg, wait_s=WAIT_S, max_rows=100)
    items = [await make_item(f"call-{n}") for n in range(6)]
    assert await asyncio.gather(*(batcher.submit(item) for item in items)) == ["stored"] * 6
    assert await _distinct_transactions(pg) == 1


async def test_max_rows_splits_batches(pg: asyncpg.Pool, agent: Agent) -> None:
    batcher = Batcher(pg, wait_s=WAIT_S, max_rows=2)
    items = [await make_item(f"call-{n}") for n in range(6)]
    assert await asyncio.gather(*(batcher.submit(item) for item in items)) == ["stored"] * 6
    assert await _distinct_transactions(pg) == 3


async def test_no_wait_writes_each_item_alone(pg: asyncpg.Pool, agent: Agent) -> None:
    batcher = Batcher(pg, wait_s=0, max_rows=100)
    items = [await make_item(f"call-{n}") for n in range(4)]
    assert await asyncio.gather(*(batcher.submit(item) for item in items)) == ["stored"] * 4
    assert await _distinct_transactions(pg) == 4


async def test_a_bad_item_fails_alone(pg: asyncpg.Pool, agent: Agent) -> None:
    batcher = Batcher(pg, wait_s=WAIT_S, max_rows=100)
    good = [await make_item(f"call-good-{n}") for n in range(3)]
    bad = await make_item("call-bad", summary="a\x00b")  # Postgres text cannot hold NUL
    with capture_logs() as logs:
        results = await asyncio.gather(*(batcher.submit(i) for i in [*good, bad]), return_exceptions=True)
    assert results[:3] == ["stored"] * 3
    assert isinstance(results[3], asyncpg.CharacterNotInRepertoireError)
    assert [entry["event"] for entry in logs] == ["batch_failed_writing_singly"]
    assert await pg.fetchval("SELECT count(*) FROM conversations") == 3


async def test_a_transient_error_goes_back_to_every_item(settings: Settings, agent: Agent) -> None:
    # A pool on a port nobody listens on: every connect is refused, as while Postgres restarts.
    unreachable = replace(settings, database_url="postgresql://postgres@127.0.0.1:9/nowhere")
    pool = await create_pool(unreachable, min_size=0)
    try:
        batcher = Batcher(pool, wait_s=WAIT_S, max_rows=100)
        items = [await make_item(f"call-{n}") for n in range(3)]
        with capture_logs() as logs:
            results = await asyncio.gather(*(batcher.submit(i) for i in items), return_exceptions=True)
    finally:
        await pool.close()
    assert all(isinstance(r, OSError) for r in results)
    assert logs == []  # not split into single writes: each job retries as a whole


async def test_drain_writes_what_is_pending_and_skips_cancelled_jobs(pg: asyncpg.Pool, agent: Agent) -> None:
    batcher = Batcher(pg, wait_s=60, max_rows=100)  # nothing would be written for a minute
    given_up = asyncio.ensure_future(batcher.submit(await make_item("call-given-up")))
    kept = asyncio.ensure_future(batcher.submit(await make_item("call-kept")))
    await asyncio.sleep(0)
    given_up.cancel()  # the job's own deadline ran out while it waited
    await batcher.drain()
    async with asyncio.timeout(5):  # settling the cancelled one first must not leave this one hanging
        assert await kept == "stored"
    with pytest.raises(asyncio.CancelledError):
        await given_up
    assert await pg.fetchval("SELECT count(*) FROM conversations") == 2
