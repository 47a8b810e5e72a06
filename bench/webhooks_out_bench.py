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
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import aiohttp
import asyncpg
import msgspec

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
DEADLINE_S = 300.0  # a round that has not finished by then is a failure, not a wait
# Postgres has seen the tables before the clock starts (a fresh table is planned blind).
ANALYZE_SQL = "ANALYZE webhook_events, webhook_deliveries, webhook_attempts, webhook_endpoints"


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
    settings: Settings, pool: asyncpg.Pool, account_id: int, events: int, profile: cProfile.Profile | None
) -> float:
    """A fresh worker delivering `events` new outbox events; deliveries per second, from the events'
    insert to the last success logged."""
    await pool.execute("TRUNCATE webhook_events CASCADE")
    kwargs = worker_settings(settings) | {"poll_delay": 0.005, "handle_signals": False, "cron_jobs": []}
    worker = BatchClaimWorker(**kwargs)
    task = asyncio.create_task(worker.async_run())
    await asyncio.sleep(0.5)  # started: its pool is open and its dispatcher idles
    if profile is not None:
        profile.enable()
    started = time.perf_counter()
    await pool.execute(FILL_SQL, account_id, msgspec.json.encode(DATA).decode(), events)
    while await pool.fetchval(SUCCEEDED_SQL) < events:
        if time.perf_counter() - started > DEADLINE_S:
            raise TimeoutError(f"{events} deliveries not done in {DEADLINE_S:g} s")
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    if profile is not None:
        profile.disable()
    # close() would cancel jobs still running (a lane ends within a second by itself).
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        await worker.close()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return events / elapsed


async def run(settings: Settings, args: argparse.Namespace) -> None:
    """Set up, alternate the two measurements for args.rounds rounds, print each and the medians."""
    profile = cProfile.Profile() if args.profile else None
    with receiver_process() as url:
        pool = await asyncpg.create_pool(settings.database_url)
        try:
            conn = await asyncpg.connect(settings.database_url)
            await migrate(conn)
            await conn.close()
            account_id = await insert_account(pool, "bench@example.com", "growth")
            await insert_endpoint(pool, account_id, url=url, secret=generate_secret())
            await worker_rate(settings, pool, account_id, min(args.events, 200), None)  # warm-up
            await pool.execute(ANALYZE_SQL)
            ceilings, rates = [], []
            for n in range(args.rounds):
                for which in ("ceiling", "worker") if n % 2 == 0 else ("worker", "ceiling"):
                    if which == "ceiling":
                        ceilings.append(await bare_client(url, args.events, args.concurrency))
                    else:
                        rates.append(await worker_rate(settings, pool, account_id, args.events, profile))
                print(f"round {n + 1}: ceiling {ceilings[-1]:6.0f} posts/s, worker {rates[-1]:6.0f} "
                      f"deliveries/s ({rates[-1] / ceilings[-1]:.0%})")  # fmt: skip
        finally:
            await pool.close()
    ceiling, rate = statistics.median(ceilings), statistics.median(rates)
    print(f"bare aiohttp client : {ceiling:8.0f} posts/s ({args.concurrency} concurrent, median)")
    print(f"webhooks out worker : {rate:8.0f} deliveries/s (median; {rate / ceiling:.0%} of the ceiling)")
    if profile is not None:
        profile.dump_stats(args.profile)


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
        asyncio.run(run(settings, args))
    finally:
        valkey.stop()
        pg.stop()


if __name__ == "__main__":
    main()
