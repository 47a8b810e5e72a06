"""The worker's metrics: jobs by outcome and duration, dead letters by reason; and its own
GET /metrics port, scraped from a real worker process."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from arq.connections import ArqRedis
from prometheus_client import generate_latest

from ops.embedded import free_port
from shared.config import Settings
from shared.metrics.series import REGISTRY
from shared.queue import enqueue_event
from tests.faults.processes import service_env, start_service, stop
from tests.helpers import eventually
from tests.shared.scrape import Samples, parse, value
from tests.worker.conftest import Agent, drain, make_event


def _in_process() -> Samples:
    return parse(generate_latest(REGISTRY).decode())


async def test_stored_jobs_and_dead_letters_move(
    settings: Settings, arq_pool: ArqRedis, agent: Agent
) -> None:
    before = _in_process()
    await enqueue_event(arq_pool, make_event("call-stored"))
    await enqueue_event(arq_pool, make_event("call-orphan", to_number="+15550109999"))
    await drain(settings)
    after = _in_process()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("ringready_jobs_total", outcome="stored") == 1
    assert moved("ringready_jobs_total", outcome="no_agent") == 1
    assert moved("ringready_job_duration_seconds_count", outcome="stored") == 1
    assert moved("ringready_dead_letters_total", reason="no_agent") == 1
    assert moved("ringready_dead_letters_total", reason="invalid") == 0


async def test_worker_process_serves_metrics_on_its_port(
    settings: Settings, arq_pool: ArqRedis, agent: Agent, tmp_path: Path
) -> None:
    port = free_port()
    env = service_env(settings, RINGREADY_WORKER_METRICS_PORT=str(port))
    worker = start_service("services.worker", env, tmp_path / "worker.log")
    try:
        await enqueue_event(arq_pool, make_event("call-scraped"))
        async with aiohttp.ClientSession() as session:

            async def stored() -> float:
                async with session.get(f"http://127.0.0.1:{port}/metrics") as reply:
                    return value(parse(await reply.text()), "ringready_jobs_total", outcome="stored")

            assert (
                await eventually(
                    stored, 30, "the worker's /metrics to count a stored job", retrying=(OSError,)
                )
                == 1
            )
    finally:
        stop(worker)
