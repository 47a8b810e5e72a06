"""`python -m services.worker --check`: the liveness probe sees a running worker, and its absence."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from shared.config import Settings
from tests.faults.processes import service_env, start_service, stop
from tests.helpers import REPO_ROOT, eventually


async def _check(env: dict[str, str]) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.worker", "--check", cwd=REPO_ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return await process.wait()


async def test_check_reports_worker_health(settings: Settings, tmp_path: Path) -> None:
    env = service_env(settings)
    assert await _check(env) == 1
    worker = start_service("services.worker", env, tmp_path / "worker.log")
    try:

        async def healthy() -> bool:
            return await _check(env) == 0

        await eventually(healthy, 30, "the worker to record its health")
    finally:
        stop(worker)
    assert worker.returncode == 0  # SIGTERM is a clean shutdown
    assert await _check(env) == 1  # a clean shutdown removes the health key
