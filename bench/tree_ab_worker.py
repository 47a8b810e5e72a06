"""The worker's part of bench/tree_ab: one pre-filled queue drained by each tree's worker in turn.

Per run: the `worker_ab` database is emptied and Valkey flushed, `--worker-events` distinct events
are enqueued by this tree's `shared.queue` (the job format is the contract both trees must read:
a baseline worker that cannot read it fails the run), then one `python -m services.worker` of the
tree (its own .venv, cwd = the tree, production settings: batches of 5 ms) drains it. Reported per
run, as bench.worker_bench measures it: conversations stored per second from the first stored row
to the last, and the CPU the worker process and Valkey spent per stored conversation over that span.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import asyncpg

from bench import worker_bench
from bench.e2e_cpu import process_cpu_s
from ops.embedded import die_with_parent
from shared.config import Settings

DATABASE = "worker_ab"
METRICS = ("rps", "cpu_us_per_req", "valkey_us_per_req")
DRAIN_TIMEOUT_S = 300


def start_worker(tree: Path, settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    """`python -m services.worker` from that tree's .venv, cwd = the tree, output appended to log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGREADY_")} | {
        "RINGREADY_DATABASE_URL": settings.database_url,
        "RINGREADY_REDIS_URL": settings.redis_url,
        "RINGREADY_LOG_LEVEL": "warning",
        "RINGREADY_LOG_FORMAT": "json",
    }
    env = {k: v for k, v in env.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(tree / ".venv" / "bin" / "python"), "-m", "services.worker"],
            cwd=tree,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )


async def drain(settings: Settings, events: int, worker_pid: int, valkey_pid: int) -> dict[str, Any]:
    """Wait until `events` rows are stored; rate and CPU per row from the first stored row on."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        first: tuple[float, int, float, float] | None = None
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while time.monotonic() < deadline:
            count: int = await conn.fetchval("SELECT count(*) FROM conversations")
            now = time.monotonic()
            cpu, vk = process_cpu_s(worker_pid), process_cpu_s(valkey_pid)
            if first is None and count > 0:
                first = (now, count, cpu, vk)
            if first is not None and count >= events:
                stored = max(1, count - first[1])
                return {
                    "rps": round(stored / max(now - first[0], 1e-6), 1),
                    "cpu_us_per_req": round((cpu - first[2]) / stored * 1e6, 1),
                    "valkey_us_per_req": round((vk - first[3]) / stored * 1e6, 1),
                    "requests": stored,
                    "failures": 0,
                    "load1": os.getloadavg()[0],
                }
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
    return {"failures": 1, "requests": 0, "load1": os.getloadavg()[0]} | dict.fromkeys(METRICS, 0.0)


async def one_run(tree: Path, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """Fill the queue, let this tree's worker drain it, stop the worker."""
    await worker_bench.fill_queue(settings, args.worker_events)
    worker = start_worker(tree, settings, args.root / "worker_ab.log")
    try:
        return await drain(settings, args.worker_events, worker.pid, args.valkey_pid)
    finally:
        worker_bench.stop_workers([worker])


async def create_database(postgres_url: str) -> str:
    """A database of its own (the API's bench data stays untouched), migrated, with an agent."""
    conn = await asyncpg.connect(postgres_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            await conn.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await conn.close()
    url = postgres_url.rsplit("/", 1)[0] + "/" + DATABASE
    await worker_bench.prepare(url)
    return url


def worker_runs(args: argparse.Namespace, postgres_url: str, trees: tuple[str, str]) -> dict[str, list[Any]]:
    """`rounds` rounds, each tree once per round, the order reversing every round."""
    database_url = asyncio.run(create_database(postgres_url))
    settings = Settings(database_url=database_url, redis_url=args.redis_url, data_dir=str(args.root))
    runs: dict[str, list[dict[str, Any]]] = {tree: [] for tree in trees}
    for number in range(args.rounds):
        for tree in trees if number % 2 == 0 else trees[::-1]:
            runs[tree].append(asyncio.run(one_run(args.tree[tree], settings, args)))
    return runs
