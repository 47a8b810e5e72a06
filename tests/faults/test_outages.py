"""Redis killed and restarted, Postgres stopped for 30 s: every event that got a 2xx is stored.

A real ingest process and a real worker process; events go in over HTTP, signed.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from ops.embedded import free_port, port_open
from shared.config import Settings
from tests.faults.processes import count_rows, service_env, start_service, stop
from tests.faults.webhooks import post_call
from tests.helpers import Servers, eventually
from tests.worker.conftest import stop_postgres_fast

POSTGRES_OUTAGE_S = 30.0


@pytest.fixture
async def services(settings: Settings, agent_id: int, tmp_path: Path) -> AsyncIterator[str]:
    """Ingest and worker processes; yields ingest's base URL."""
    port = free_port()
    env = service_env(settings, RINGREADY_INGEST_PORT=str(port))
    started: list[subprocess.Popen[bytes]] = []
    try:
        started.append(start_service("services.ingest", env, tmp_path / "ingest.log"))
        started.append(start_service("services.worker", env, tmp_path / "worker.log"))

        async def ingest_up() -> bool:
            return port_open("127.0.0.1", port)

        await eventually(ingest_up, 30, "ingest to listen")
        yield f"http://127.0.0.1:{port}"
    finally:
        for process in started:
            stop(process)


async def _stored_call_ids(database_url: str) -> set[str]:
    conn = await asyncpg.connect(database_url)
    try:
        return {r["provider_call_id"] for r in await conn.fetch("SELECT provider_call_id FROM conversations")}
    finally:
        await conn.close()


async def _all_stored(settings: Settings, accepted: set[str]) -> None:
    async def landed() -> bool:
        return accepted <= await _stored_call_ids(settings.database_url)

    await eventually(landed, 90, f"{len(accepted)} accepted events to be stored")
    assert await _stored_call_ids(settings.database_url) == accepted
    assert await count_rows(settings.database_url, "dead_letters") == 0


@pytest.mark.slow
async def test_redis_killed_and_restarted(servers: Servers, settings: Settings, services: str) -> None:
    if servers.redis is None:
        pytest.skip("needs the embedded Redis to kill it")
    accepted: set[str] = set()
    refused = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for n in range(600):
            if n == 200:
                servers.redis.kill()
            if n == 350:
                servers.redis.start()
            status = await post_call(session, services, f"redis-{n:04d}")
            if 200 <= status < 300:
                accepted.add(f"redis-{n:04d}")
            else:
                refused += 1
            await asyncio.sleep(0.005)
    assert refused > 0  # the outage was real: ingest refused while Redis was away
    assert len(accepted) >= 400
    await _all_stored(settings, accepted)


@pytest.mark.slow
async def test_postgres_stopped_for_30_seconds(servers: Servers, settings: Settings, services: str) -> None:
    if servers.postgres is None:
        pytest.skip("needs the embedded Postgres to stop it")
    accepted: set[str] = set()
    statuses: list[int] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:

        async def post(n: int) -> None:
            status = await post_call(session, services, f"pg-{n:05d}")
            statuses.append(status)
            if 200 <= status < 300:
                accepted.add(f"pg-{n:05d}")

        for n in range(100):
            await post(n)
        stop_postgres_fast(servers.postgres)
        try:
            outage_ends = time.monotonic() + POSTGRES_OUTAGE_S
            n = 100
            while time.monotonic() < outage_ends:
                await post(n)
                n += 1
                await asyncio.sleep(0.02)
        finally:
            servers.postgres.start()
        for m in range(n, n + 100):
            await post(m)
    assert set(statuses) == {202}  # ingest never depends on Postgres
    await _all_stored(settings, accepted)
