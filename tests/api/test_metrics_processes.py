"""Several API processes on one port (SO_REUSEPORT): whichever process a scrape reaches reports
the whole service, and the shared metrics directory is gone once the service has stopped."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from ops.embedded import free_port
from shared.config import Settings
from tests.faults.processes import service_env, start_service, stop
from tests.helpers import eventually
from tests.shared.scrape import Samples, parse, value

PROCESSES = 3
POOL_SIZE = 4  # each process's Postgres connections
REQUESTS = 30


async def _get(url: str) -> str:
    """A fresh connection per request, so the kernel spreads them over the processes."""
    async with aiohttp.ClientSession() as session, session.get(url) as reply:
        assert reply.status == 200
        return await reply.text()


def _shared_dir(log: Path) -> Path:
    for line in log.read_text().splitlines():
        if (
            line.startswith("{")
            and (entry := json.loads(line)).get("event") == "metrics_shared_between_processes"
        ):
            return Path(entry["directory"])
    raise AssertionError(f"no metrics directory logged in {log.read_text()}")


async def test_every_scrape_reports_all_processes(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    env = service_env(
        settings,
        RINGREADY_API_PORT=str(port),
        RINGREADY_API_PROCESSES=str(PROCESSES),
        RINGREADY_LOG_LEVEL="info",
        RINGREADY_PG_POOL_MAX=str(POOL_SIZE),
    )
    log = tmp_path / "api.log"
    api = start_service("services.api", env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        await eventually(lambda: _get(f"{base}/healthz"), 30, "the API to answer", retrying=(OSError,))
        for _ in range(REQUESTS - 1):
            await _get(f"{base}/healthz")
        scrapes: list[Samples] = [parse(await _get(f"{base}/metrics")) for _ in range(3 * PROCESSES)]
        shared_dir = _shared_dir(log)
        assert shared_dir.is_dir()
    finally:
        stop(api)
    for samples in scrapes:
        assert (
            value(samples, "ringready_http_requests_total", route="/healthz", method="GET", status="200")
            == REQUESTS
        )
    # Live gauges: one limiter state per process (labelled by pid), connections summed over them.
    pids = {
        dict(labels)["pid"] for name, labels in scrapes[-1] if name == "ringready_rate_limiter_redis_state"
    }
    assert len(pids) == PROCESSES
    assert value(scrapes[-1], "ringready_pg_pool_connections", state="size") == PROCESSES * POOL_SIZE
    assert not shared_dir.exists()
