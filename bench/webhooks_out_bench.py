"""Webhooks out: deliveries per second to a local receiver, against a bare aiohttp client posting
the same bodies to the same receiver, in the same run.

Embedded Postgres (durable, as `ringready up` runs it) and Valkey; one account with one endpoint
on a local aiohttp receiver; N events already in the outbox. The worker (in this process, with its
dispatcher) is timed from its start until every delivery is logged as succeeded, so fan-out,
leasing, the queue, signing, the POST and recording each attempt are all counted. The ceiling is
aiohttp alone posting the same N bodies with the same concurrency. Usage:

    .venv/bin/python -m bench.webhooks_out_bench [--events 2000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
import warnings
from pathlib import Path

import aiohttp
import asyncpg
import msgspec
from aiohttp import web

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


async def receiver() -> tuple[web.AppRunner, str, list[int]]:
    """A receiver that answers 204 at once and counts requests."""
    count = [0]

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        count[0] += 1
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/hook", count


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


async def worker_rate(settings: Settings, pool: asyncpg.Pool, events: int) -> float:
    """The worker delivering `events` outbox events; deliveries per second, start to last logged."""
    kwargs = worker_settings(settings) | {"poll_delay": 0.005, "handle_signals": False, "cron_jobs": []}
    worker = BatchClaimWorker(**kwargs)
    started = time.perf_counter()
    task = asyncio.create_task(worker.async_run())
    while True:
        done = await pool.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'")
        if done >= events:
            break
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    # close() would cancel jobs still running (a lane ends within a second by itself).
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        await worker.close()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return events / elapsed


async def run(settings: Settings, events: int, concurrency: int) -> None:
    """Set up, measure both, print one line each."""
    runner, url, _ = await receiver()
    pool = await asyncpg.create_pool(settings.database_url)
    try:
        conn = await asyncpg.connect(settings.database_url)
        await migrate(conn)
        await conn.close()
        account_id = await insert_account(pool, "bench@example.com", "growth")
        await insert_endpoint(pool, account_id, url=url, secret=generate_secret())
        await pool.execute(FILL_SQL, account_id, msgspec.json.encode(DATA).decode(), events)
        ceiling = await bare_client(url, events, concurrency)
        rate = await worker_rate(settings, pool, events)
        print(f"bare aiohttp client : {ceiling:8.0f} posts/s ({concurrency} concurrent)")
        print(f"webhooks out worker : {rate:8.0f} deliveries/s ({rate / ceiling:.0%} of the ceiling)")
    finally:
        await pool.close()
        await runner.cleanup()


def main() -> None:
    """Entry point: embedded servers under a temp dir, then run()."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--interval-ms", type=int, default=20)
    parser.add_argument("--pool", type=int, default=10)
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
        asyncio.run(run(settings, args.events, args.concurrency))
    finally:
        valkey.stop()
        pg.stop()


if __name__ == "__main__":
    main()
