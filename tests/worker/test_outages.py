"""Transient failures retry (without using up tries); expiring jobs are renewed or recorded."""

from __future__ import annotations

import asyncpg
import pytest
from arq.connections import ArqRedis

from services.worker.state import build_state
from services.worker.sweep import RENEW_BELOW_MS, sweep
from shared.config import Settings
from shared.db.pool import create_pool
from shared.queue import enqueue_event
from tests.helpers import Servers
from tests.worker.conftest import Agent, drain, make_event, stop_postgres_fast


async def test_postgres_down_retries_instead_of_dead_lettering(
    servers: Servers, settings: Settings, arq_pool: ArqRedis, agent: Agent
) -> None:
    if servers.postgres is None:
        pytest.skip("needs the embedded Postgres to stop it")
    job_id = await enqueue_event(arq_pool, make_event("call-outage"))
    stop_postgres_fast(servers.postgres)
    try:
        worker = await drain(settings, max_burst_jobs=1)
        assert worker.jobs_retried == 1
        assert await arq_pool.zscore(settings.queue_name, job_id) is not None  # still queued
        assert await arq_pool.get(f"ringready:transient:{job_id}") == b"1"
    finally:
        servers.postgres.start()
    await drain(settings)
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM conversations") == 1
        assert await conn.fetchval("SELECT count(*) FROM dead_letters") == 0
    finally:
        await conn.close()
    assert await arq_pool.exists(f"ringready:transient:{job_id}") == 0


async def test_sweeper_renews_low_ttl_and_records_expired(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis
) -> None:
    low = await enqueue_event(arq_pool, make_event("call-low"))
    gone = await enqueue_event(arq_pool, make_event("call:with:colons"))
    await arq_pool.pexpire(f"arq:job:{low}", 60_000)
    await arq_pool.delete(f"arq:job:{gone}")  # what expiry or eviction leaves behind
    pool = await create_pool(settings)
    try:
        counts = await sweep(arq_pool, build_state(settings, pool))
    finally:
        await pool.close()
    assert counts == {"renewed": 1, "expired": 1}
    assert await arq_pool.pttl(f"arq:job:{low}") > RENEW_BELOW_MS
    assert await arq_pool.zscore(settings.queue_name, gone) is None
    row = await pg.fetchrow("SELECT job_id, source, provider_call_id, reason, payload FROM dead_letters")
    assert tuple(row or ()) == (gone, "phone", "call:with:colons", "expired", b"")
