"""Webhooks out: deliveries per second to a local receiver, against a bare aiohttp client posting
the same bodies to the same receiver, in the same run.

Embedded Postgres (durable, as `ringready up` runs it) and Valkey; one account with one endpoint
on a local aiohttp receiver that runs in a process of its own (bench/webhooks_receiver.py), so that
neither figure includes the receiver's CPU. Each round, the worker (in this process, dispatcher
included, started before the clock) is timed from N events landing in the outbox until every
delivery is logged as succeeded: fan-out, leasing, the queue, signing, the POST and recording each
attempt all count. The ceiling is aiohttp alone posting the same N bodies with the same
concurrency. Rounds alternate which of the two goes first; the medians are what to quote. Usage:

    .venv/bin/python -m bench.webhooks_out_bench [--events 3000] [--rounds 3] [--concurrency 50]
        [--profile worker.prof]   # cProfile of the worker rounds (pstats format)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import statistics
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import msgspec

from bench.e2e_cpu import tree_cpu_s
from bench.webhooks_receiver import receiver_process
from ops.embedded import postgres_server, valkey_server
from services.worker.app import worker_settings
from shared.config import Settings
from shared.db.accounts import insert_account
from shared.db.migrate import migrate
from shared.db.webhook_endpoints import insert_endpoint
from shared.logging import configure_logging
from shared.queue import BatchClaimWorker
from shared.webhooks.signing import generate_secret

# A conversation.created body of a realistic size (a four-turn call, ~1.2 KB).
DATA = {
    "id": 1, "channel": "phone", "agent_id": 1, "from": "+14155550199", "to": "+14155550100",
    "caller_name": "Dana", "label": "Pricing", "summary": "Caller asked the price of a cleaning.",
    "started_at": "2026-03-02T15:00:00Z", "ended_at": "2026-03-02T15:01:35Z", "duration_seconds": 95,
    "end_reason": "caller_hung_up", "is_archived": False, "is_viewed": False, "web_chat": None,
    "transcript": [{"role": "agent", "content": "Bright Smiles, how can I help you?", "elapsed_s": 0.5}] * 4,
    "recording_url": None,
}  # fmt: skip
FILL_SQL = """
INSERT INTO webhook_events (type, account_id, subject, payload)
SELECT 'conversation.created', $1, 'conversation:' || g, $2::json FROM generate_series(1, $3) AS g
"""
SUCCEEDED_SQL = "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'"
# Cheap enough to poll (partial indexes): events not fanned out yet, or deliveries still pending.
PENDING_SQL = """
SELECT EXISTS (SELECT FROM webhook_events WHERE dispatched_at IS NULL)
    OR EXISTS (SELECT FROM webhook_deliveries WHERE status = 'pending')
"""
DEADLINE_S = 300.0  # a round that has not finished by then is a failure, not a wait
Cpu = dict[str, float]  # CPU ms per delivery (or post), per process
# Postgres has seen the tables before the clock starts (a fresh table is planned blind).
ANALYZE_SQL = "ANALYZE webhook_events, webhook_deliveries, webhook_attempts, webhook_endpoints"


@contextlib.contextmanager
def cpu_per(count: int, pids: dict[str, int], into: Cpu) -> Iterator[None]:
    """CPU ms per item that each process tree spent during the block, into `into`."""
    before = {name: tree_cpu_s(pid) for name, pid in pids.items()}
    yield
    into.update({name: (tree_cpu_s(pid) - before[name]) * 1000 / count for name, pid in pids.items()})


async def bare_client(url: str, events: int, concurrency: int) -> float:
    """The ceiling: aiohttp posting the same-size bodies, `concurrency` at a time; posts per second."""
    body = msgspec.json.encode({"id": "msg_x", "type": "conversation.created", "data": DATA})
    queue = iter(range(events))
    async with aiohttp.ClientSession() as session:

        async def post_all() -> None:
            for _ in queue:
                async with session.post(url, data=body, headers={"content-type": "application/json"}) as r:
                    await r.read()

        started = time.perf_counter()
        await asyncio.gather(*(post_all() for _ in range(concurrency)))
        return events / (time.perf_counter() - started)


async def worker_rate(
    settings: Settings, pool: asyncpg.Pool, account_id: int, args: argparse.Namespace, cpu: Cpu
) -> float:
    """A fresh worker delivering args.events new outbox events; deliveries per second, from the
    events' commit to the last success logged (the insert is one transaction: the worker can do
    nothing with them before it commits, and writing the outbox is the store's cost, not ours)."""
    await pool.execute("TRUNCATE webhook_events CASCADE")
    kwargs = worker_settings(settings) | {"handle_signals": False, "cron_jobs": []}  # as deployed
    worker = BatchClaimWorker(**kwargs)
    task = asyncio.create_task(worker.async_run())
    await asyncio.sleep(0.5)  # started: its pool is open and its dispatcher idles
    await pool.execute(FILL_SQL, account_id, msgspec.json.encode(DATA).decode(), args.events)
    with args.profiler or contextlib.nullcontext(), cpu_per(args.events, args.pids, cpu):
        started = time.perf_counter()
        while await pool.fetchval(PENDING_SQL):
            if time.perf_counter() - started > DEADLINE_S:
                raise TimeoutError(f"{args.events} deliveries not done in {DEADLINE_S:g} s")
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
    if await pool.fetchval(SUCCEEDED_SQL) != args.events:
        raise RuntimeError("not every delivery succeeded")
    # close() would cancel jobs still running (a lane ends within a second by itself).
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        await worker.close()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    events: int = args.events
    return events / elapsed


@dataclass
class Round:
    """One round's two rates and what each cost in CPU per item."""

    ceiling: float = 0.0
    rate: float = 0.0
    cpu: dict[str, Cpu] = field(default_factory=lambda: {"ceiling": {}, "worker": {}})

    def __str__(self) -> str:
        return (
            f"ceiling {self.ceiling:6.0f} posts/s, worker {self.rate:6.0f} deliveries/s "
            f"({self.rate / self.ceiling:.0%}); CPU ms per item: ceiling {_ms(self.cpu['ceiling'])}; "
            f"worker {_ms(self.cpu['worker'])}"
        )


async def one_round(
    settings: Settings, args: argparse.Namespace, setup: tuple[asyncpg.Pool, int, str]
) -> Round:
    """The ceiling and the worker, the ceiling first in odd rounds."""
    pool, account_id, url = setup
    result = Round()
    for which in ("ceiling", "worker") if args.round % 2 else ("worker", "ceiling"):
        if which == "ceiling":
            with cpu_per(args.events, args.pids, result.cpu[which]):
                result.ceiling = await bare_client(url, args.events, args.concurrency)
        else:
            result.rate = await worker_rate(settings, pool, account_id, args, result.cpu[which])
    return result


async def run(settings: Settings, args: argparse.Namespace, servers: dict[str, int]) -> None:
    """Set up, alternate the two measurements for args.rounds rounds, print each and the medians."""
    # CPU time, not wall time: on a shared 2-core box a syscall's wall time is mostly waiting.
    args.profiler = cProfile.Profile(time.process_time) if args.profile else None
    results = []
    with receiver_process() as (url, receiver_pid):
        args.pids = {"bench/worker": os.getpid(), "receiver": receiver_pid, **servers}
        pool = await asyncpg.create_pool(settings.database_url)
        try:
            conn = await asyncpg.connect(settings.database_url)
            await migrate(conn)
            await conn.close()
            account_id = await insert_account(pool, "bench@example.com", "growth")
            await insert_endpoint(pool, account_id, url=url, secret=generate_secret())
            warm_up = argparse.Namespace(**vars(args) | {"events": min(args.events, 200), "profiler": None})
            await worker_rate(settings, pool, account_id, warm_up, {})
            await pool.execute(ANALYZE_SQL)
            for n in range(1, args.rounds + 1):
                args.round = n
                results.append(await one_round(settings, args, (pool, account_id, url)))
                print(f"round {n}: {results[-1]}")
        finally:
            await pool.close()
    report(results, args)


def _ms(cpu: Cpu) -> str:
    return ", ".join(f"{name} {ms:.3f}" for name, ms in cpu.items())


def report(results: list[Round], args: argparse.Namespace) -> None:
    """The medians over the rounds, and the profile if one was taken."""
    ceiling = statistics.median(r.ceiling for r in results)
    rate = statistics.median(r.rate for r in results)
    ratio = statistics.median(r.rate / r.ceiling for r in results)
    print(f"bare aiohttp client : {ceiling:8.0f} posts/s ({args.concurrency} concurrent, median)")
    print(f"webhooks out worker : {rate:8.0f} deliveries/s (median; median ratio {ratio:.0%} of the ceiling)")
    for label in ("ceiling", "worker"):
        medians = {
            name: statistics.median(r.cpu[label][name] for r in results) for name in results[0].cpu[label]
        }
        print(f"CPU ms per item, {label} (median): {_ms(medians)}")
    if args.profiler is not None:
        args.profiler.dump_stats(args.profile)


def main() -> None:
    """Entry point: embedded servers under a temp dir, then run()."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--interval-ms", type=int, default=20)
    parser.add_argument("--pool", type=int, default=10)
    parser.add_argument("--profile", help="write a cProfile of the worker rounds here")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ringready-bench-hooks-"))
    pg, valkey = postgres_server(root, durable=True), valkey_server(root)
    pg.start()
    valkey.start()
    try:
        settings = Settings(
            database_url=pg.url, redis_url=valkey.url, data_dir=str(root), log_level="warning",
            webhook_allow_http=True, webhook_allow_loopback=True, pg_pool_max=args.pool,
            webhook_endpoint_concurrency=args.concurrency, webhook_dispatch_interval_ms=args.interval_ms,
        )  # fmt: skip
        configure_logging(settings, "bench")
        servers = {"postgres": _pid(pg.process), "valkey": _pid(valkey.process)}
        asyncio.run(run(settings, args, servers))
    finally:
        valkey.stop()
        pg.stop()


def _pid(process: subprocess.Popen[bytes] | None) -> int:
    if process is None:
        raise RuntimeError("the server did not start")
    return process.pid


if __name__ == "__main__":
    main()
