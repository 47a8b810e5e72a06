"""Worker throughput: conversations stored per second, with and without batching.

Real worker processes (`python -m services.worker`) drain a pre-filled arq queue into a real
embedded Postgres (durable settings, as `ringready up` runs it). The rate is measured from the
first stored row to the last, so process start-up is not counted; each configuration runs
several times and the median is reported. Usage:

    .venv/bin/python -m bench.worker_bench [--events 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import asyncpg

from ops.embedded import die_with_parent, postgres_server, valkey_server
from ops.runner import stop_children
from shared.config import Settings
from shared.db.accounts import insert_account
from shared.db.agents import insert_agent
from shared.db.migrate import migrate
from shared.models import FinishedConversation, QueuedEvent, Turn
from shared.queue import create_arq_pool, enqueue_event

AGENT_PHONE = "+14155550100"
CONFIGS = (("unbatched", 0, 1), ("batched", 5, 1), ("batched", 5, 2))  # (name, batch ms, processes)
REPO = Path(__file__).resolve().parent.parent


def make_event(n: int) -> QueuedEvent:
    """A realistic native phone call: a short transcript, distinct call id."""
    from datetime import UTC, datetime

    start = datetime(2026, 3, 2, 15, 0, tzinfo=UTC) + timedelta(seconds=n)
    turns = [
        Turn(role="agent", content="Bright Smiles, how can I help?", elapsed_s=0.5, raw_role="agent"),
        Turn(
            role="caller", content="Hi, this is Dana, how much is a cleaning?", elapsed_s=3.0, raw_role="user"
        ),
        Turn(
            role="agent", content="A cleaning is $120. Shall I book you in?", elapsed_s=6.0, raw_role="agent"
        ),
        Turn(role="caller", content="Yes please, Saturday morning.", elapsed_s=9.0, raw_role="user"),
    ]
    conversation = FinishedConversation(
        source="phone", provider_call_id=f"bench-{n:07d}", channel="phone", event_type="call.finished",
        event_rank=1, event_at=start + timedelta(minutes=3), started_at=start,
        ended_at=start + timedelta(seconds=95), transcript=turns, from_number="+14155550199",
        to_number=AGENT_PHONE, end_reason_raw="caller_hangup",
    )  # fmt: skip
    return QueuedEvent(conversation=conversation, raw_body=b'{"call_id": "%d"}' % n, received_at=start)


async def prepare(database_url: str) -> int:
    """Schema, an account and one agent on AGENT_PHONE to route to; returns the account id."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        account_id = await insert_account(conn, "bench@example.com", "growth")
        await insert_agent(conn, account_id=account_id, phone_number=AGENT_PHONE, business_name="Bench")
        return account_id
    finally:
        await conn.close()


async def fill_queue(settings: Settings, events: int) -> None:
    """Empty the tables and the queue, then enqueue `events` distinct events."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute("TRUNCATE conversations, conversation_details, dead_letters")
    finally:
        await conn.close()
    arq = await create_arq_pool(settings)
    try:
        await arq.flushdb()
        for start in range(0, events, 500):
            await asyncio.gather(
                *(enqueue_event(arq, make_event(n)) for n in range(start, min(events, start + 500)))
            )
    finally:
        await arq.aclose()


def start_module(module: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`python -m <module>` as deployed, output appended to log; dies with this process (no orphans)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,  # callers start processes from the main thread
        )


def start_workers(env: dict[str, str], processes: int, log: Path) -> list[subprocess.Popen[bytes]]:
    """`python -m services.worker`, `processes` times."""
    return [start_module("services.worker", env, log) for _ in range(processes)]


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM and reap."""
    stop_children(workers)


async def measure(settings: Settings, events: int, batch_ms: int, processes: int, log: Path) -> float:
    """Start the workers, time the drain, stop them; conversations per second."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGREADY_")} | {
        "RINGREADY_DATABASE_URL": settings.database_url,
        "RINGREADY_REDIS_URL": settings.redis_url,
        "RINGREADY_WORKER_BATCH_MS": str(batch_ms),
        "RINGREADY_LOG_LEVEL": "warning",
        "RINGREADY_LOG_FORMAT": "json",
    }
    conn = await asyncpg.connect(settings.database_url)
    workers = []
    try:
        workers = start_workers(env, processes, log)
        first_at = first_count = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            count: int = await conn.fetchval("SELECT count(*) FROM conversations")
            now = time.monotonic()
            if first_at is None and count > 0:
                first_at, first_count = now, count
            if count >= events:
                assert first_at is not None and first_count is not None
                return (count - first_count) / max(now - first_at, 1e-6)
            await asyncio.sleep(0.02)
        raise RuntimeError("workers did not drain the queue in 300 s")
    finally:
        await conn.close()
        stop_workers(workers)


async def run(events: int, runs: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="ringready-worker-bench-"))
    pg, valkey = postgres_server(root, durable=True), valkey_server(root)
    pg.start()
    valkey.start()
    try:
        settings = Settings(database_url=pg.url, redis_url=valkey.url, data_dir=str(root))
        await prepare(settings.database_url)
        print(f"{events} events per run, {runs} runs, {os.cpu_count()} CPUs; rate = first to last stored row")
        print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
        for name, batch_ms, processes in CONFIGS:
            rates = []
            for _ in range(runs):
                await fill_queue(settings, events)
                rates.append(await measure(settings, events, batch_ms, processes, root / "workers.log"))
            shown = ", ".join(f"{r:.0f}" for r in rates)
            median = statistics.median(rates)
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(
                f"{name:10} batch_ms={batch_ms} processes={processes}: median {median:.0f}/s ({shown})"
                f"  [load average after: {load}]",
                flush=True,
            )
    finally:
        valkey.stop()
        pg.stop()


def main() -> None:
    """Parse arguments and run every configuration."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.events, args.runs))


if __name__ == "__main__":
    main()
