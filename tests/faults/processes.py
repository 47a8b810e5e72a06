"""Real service processes for fault tests: started with RINGREADY_* env from the test settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg

from shared.config import Settings
from tests.helpers import REPO_ROOT


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a service reads its settings from, matching the test settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGREADY_")}
    env |= {
        "RINGREADY_DATABASE_URL": settings.database_url,
        "RINGREADY_REDIS_URL": settings.redis_url,
        "RINGREADY_DATA_DIR": settings.data_dir,
        "RINGREADY_JOB_TIMEOUT_S": str(settings.job_timeout_s),
        "RINGREADY_LOG_LEVEL": "warning",
        "RINGREADY_LOG_FORMAT": "json",
        "RINGREADY_WEBHOOK_SECRETS": ",".join(settings.webhook_secrets),
    }
    return env | extra


def start_service(module: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`python -m <module>` with its output in log_path."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", module], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def stop(process: subprocess.Popen[bytes], signum: int = signal.SIGTERM) -> None:
    """Signal a process we started and reap it."""
    if process.poll() is None:
        process.send_signal(signum)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


async def count_rows(database_url: str, table: str) -> int:
    """Rows in a table, on a fresh connection (pools do not survive a Postgres restart)."""
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - our table names
        return count
    finally:
        await conn.close()
