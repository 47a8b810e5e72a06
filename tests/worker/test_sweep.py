"""The sweeper: renews queued jobs' keys running low, dead-letters jobs whose key is gone, once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from arq.connections import ArqRedis

from services.worker.state import STATE_CTX, WorkerState, build_state
from services.worker.sweep import PAGE, RENEW_BELOW_MS, RENEW_TO_MS, cron_schedule, sweep, sweep_queue
from shared.config import Settings
from shared.db.pool import create_pool
from shared.queue import STORE_CONVERSATION_JOB, enqueue_once


@pytest.fixture
async def state(settings: Settings) -> AsyncIterator[WorkerState]:
    """A worker process's state, as the cron job receives it in ctx."""
    pool = await create_pool(settings)
    yield build_state(settings, pool)
    await pool.close()


async def test_sweeps_every_page_and_expires_each_gone_job_once(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis, state: WorkerState
) -> None:
    ids = [f"conv:phone:call-{n:04d}:1:{n:016x}" for n in range(PAGE + 5)]
    for job_id in ids:
        assert await enqueue_once(arq_pool, job_id, STORE_CONVERSATION_JOB, b"x")
    gone = ids[::2]  # spread over both pages, so removals shift the second page's start
    await arq_pool.delete(*(f"arq:job:{job_id}" for job_id in gone))
    assert await sweep(arq_pool, state) == {"renewed": 0, "expired": len(gone)}
    assert await sweep(arq_pool, state) == {"renewed": 0, "expired": 0}
    assert await arq_pool.zcard(settings.queue_name) == len(ids) - len(gone)
    rows = await pg.fetch("SELECT job_id, source, reason FROM dead_letters ORDER BY job_id")
    assert [tuple(r) for r in rows] == [(job_id, "phone", "expired") for job_id in gone]


async def test_renews_only_keys_running_low(
    settings: Settings, arq_pool: ArqRedis, state: WorkerState
) -> None:
    for job_id in ("low", "fresh"):
        assert await enqueue_once(arq_pool, job_id, STORE_CONVERSATION_JOB, b"x")
    await arq_pool.pexpire("arq:job:low", RENEW_BELOW_MS - 1)
    await arq_pool.pexpire("arq:job:fresh", RENEW_BELOW_MS + 60_000)
    assert await sweep_queue({"redis": arq_pool, STATE_CTX: state}) == {"renewed": 1, "expired": 0}
    assert RENEW_TO_MS - 60_000 < await arq_pool.pttl("arq:job:low") <= RENEW_TO_MS
    assert await arq_pool.pttl("arq:job:fresh") <= RENEW_BELOW_MS + 60_000


async def test_a_gone_job_with_a_foreign_id_is_still_recorded(
    pg: asyncpg.Pool, arq_pool: ArqRedis, state: WorkerState
) -> None:
    assert await enqueue_once(arq_pool, "not-ours\x00", STORE_CONVERSATION_JOB, b"x")
    await arq_pool.delete("arq:job:not-ours\x00")
    assert await sweep(arq_pool, state) == {"renewed": 0, "expired": 1}
    row = await pg.fetchrow("SELECT job_id, source, provider_call_id, reason FROM dead_letters")
    assert tuple(row or ()) == ("not-ours\ufffd", "unknown", None, "expired")


@pytest.mark.parametrize(
    ("interval_s", "fields"),
    [
        (30, {"second": {0, 30}}),
        (0, {"second": set(range(60))}),
        (120, {"minute": set(range(0, 60, 2)), "second": {0}}),
        (7200, {"minute": set(range(0, 60, 59)), "second": {0}}),
    ],
)
def test_cron_schedule_fires_every_interval(interval_s: int, fields: dict[str, set[int]]) -> None:
    assert cron_schedule(interval_s) == fields
