"""A worker SIGKILLed in the middle of a stream of 1,000 events: all 1,000 stored, once."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from arq.connections import ArqRedis

from shared.config import Settings
from shared.queue import create_arq_pool, enqueue_event
from tests.faults.processes import count_rows, eventually, service_env, start_service, stop
from tests.worker.conftest import make_event

EVENTS = 1000


async def _stream(arq: ArqRedis, count: int, per_second: float) -> None:
    for n in range(count):
        await enqueue_event(arq, make_event(f"kill-{n:04d}"))
        await asyncio.sleep(1 / per_second)


@pytest.mark.slow
async def test_sigkilled_worker_loses_nothing(settings: Settings, agent_id: int, tmp_path: Path) -> None:
    env = service_env(settings)
    arq = await create_arq_pool(settings)
    first = start_service("services.worker", env, tmp_path / "worker-1.log")
    second = None
    try:
        producer = asyncio.create_task(_stream(arq, EVENTS, per_second=400))

        async def busy_mid_stream() -> bool:
            stored = await count_rows(settings.database_url, "conversations")
            return stored >= 200 and bool(await arq.keys("arq:in-progress:conv:*"))

        await eventually(busy_mid_stream, 30, "the first worker to be mid-job after 200 stored")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        assert not producer.done()  # killed mid-stream
        in_flight = await arq.keys("arq:in-progress:conv:*")  # their keys outlive the kill
        stored_at_kill = await count_rows(settings.database_url, "conversations")
        second = start_service("services.worker", env, tmp_path / "worker-2.log")
        await producer

        async def all_stored() -> bool:
            return await count_rows(settings.database_url, "conversations") >= EVENTS

        # Jobs the killed worker held come back after job_timeout_s + 10 s (15 s here).
        await eventually(all_stored, 60, f"{EVENTS} conversations")
        await eventually(lambda: _queue_empty(arq, settings), 30, "the queue to drain")
    finally:
        for process in (first, second):
            if process is not None:
                stop(process)
        await arq.aclose()
    assert stored_at_kill < EVENTS
    assert in_flight
    assert await count_rows(settings.database_url, "conversations") == EVENTS
    assert await count_rows(settings.database_url, "conversation_details") == EVENTS
    assert await count_rows(settings.database_url, "dead_letters") == 0


async def _queue_empty(arq: ArqRedis, settings: Settings) -> bool:
    queued = await arq.zrange(settings.queue_name, 0, -1)
    return not [job_id for job_id in queued if job_id.startswith(b"conv:")]  # the sweeper's cron job may wait
