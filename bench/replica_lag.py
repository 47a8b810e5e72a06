"""Read-replica lag a client can see: from the worker's commit on the primary to the replica
showing that conversation, under a steady write load.

It starts its own embedded primary and a streaming replica made with the server's pg_basebackup
(both durable, as `ringready up` runs Postgres), migrates, creates an account and an agent, then
for `--seconds` stores conversations at `--rate` per second through the worker's own write
transaction (services/worker/store.py: route, upsert, details). Every write is a sample: a poller
starts when the commit returns and queries the replica every `--poll-ms` until the row is there.
Meanwhile it reads what an operator would monitor: `replay_lag` in pg_stat_replication on the
primary and `now() - pg_last_xact_replay_timestamp()` on the replica.

`--poll-primary` polls the primary instead: what that measures (one query's round trip and the
poll interval) is the floor under every replica figure. Loopback only, bounded in time (a sample
not visible within 10 s counts as lost). The default rate is the soak's write load (15 calls/s,
about 2 webhooks each). Usage:

    .venv/bin/python -m bench.replica_lag [--rate 30] [--seconds 30] [--poll-ms 1] [--poll-primary]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from bench.e2e_bench import pct
from bench.worker_bench import AGENT_PHONE, make_event, prepare
from ops.embedded import postgres_server, replica_server
from services.worker.store import Item, write_batch
from shared.config import Settings
from shared.db.conversation_writes import ConversationWrite
from shared.db.pool import create_pool
from shared.db.routing import RouteQuery
from shared.models import facts_of

VISIBLE_SQL = "SELECT 1 FROM conversations WHERE source = $1 AND provider_call_id = $2"
PRIMARY_REPLAY_LAG_SQL = "SELECT extract(epoch FROM replay_lag) FROM pg_stat_replication"
REPLICA_REPLAY_AGE_SQL = "SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())"
GIVE_UP_S = 10.0
MONITOR_EVERY_S = 0.5


def conversation_write(n: int) -> tuple[RouteQuery, ConversationWrite]:
    """The worker_bench's realistic call, as the worker would write it (derived fields fixed)."""
    conv = make_event(n).conversation
    derived = {
        "caller_name": "Dana",
        "label": "Booking",
        "summary": "Asked about a cleaning and booked Saturday.",
        "duration_seconds": 95,
        "end_reason": "caller_ended",
        "raw_body": b'{"call_id": "%d"}' % n,
    }
    query = RouteQuery(conv.source, conv.agent_id, AGENT_PHONE, conv.provider_assistant_id)
    return query, ConversationWrite(**(facts_of(conv) | derived))


async def visible_after(replica: asyncpg.Pool, write: ConversationWrite, poll_s: float) -> float | None:
    """Seconds from now until the replica shows the row; None if not within GIVE_UP_S."""
    start = time.perf_counter()
    while time.perf_counter() - start < GIVE_UP_S:
        if await replica.fetchval(VISIBLE_SQL, write.source, write.provider_call_id):
            return time.perf_counter() - start
        await asyncio.sleep(poll_s)
    return None


async def monitor(primary: asyncpg.Pool, replica: asyncpg.Pool, until: float) -> dict[str, float]:
    """The largest lag each monitoring query reported during the run, in ms."""
    seen = {"pg_stat_replication_replay_lag_ms": 0.0, "replica_replay_age_ms": 0.0}
    while time.monotonic() < until:
        lag = await primary.fetchval(PRIMARY_REPLAY_LAG_SQL)
        age = await replica.fetchval(REPLICA_REPLAY_AGE_SQL)
        for name, value in (("pg_stat_replication_replay_lag_ms", lag), ("replica_replay_age_ms", age)):
            seen[name] = max(seen[name], float(value or 0) * 1000)
        await asyncio.sleep(MONITOR_EVERY_S)
    return seen


async def write_load(
    primary: asyncpg.Pool, replica: asyncpg.Pool, rate: float, seconds: float, poll_s: float
) -> tuple[list[float | None], float]:
    """Store conversations at `rate` for `seconds`; each one's visible lag, and the achieved rate."""
    pollers: list[asyncio.Task[float | None]] = []
    started = time.monotonic()
    n = 0
    while (elapsed := time.monotonic() - started) < seconds:
        query, write = conversation_write(n)
        await write_batch(primary, [Item(query, write)])
        pollers.append(asyncio.create_task(visible_after(replica, write, poll_s)))
        n += 1
        await asyncio.sleep(max(0.0, n / rate - (time.monotonic() - started)))
    return list(await asyncio.gather(*pollers)), n / max(elapsed, 1e-9)


async def run(primary_url: str, replica_url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Load and measure; the result line."""
    primary = await create_pool(Settings(database_url=primary_url, pg_pool_max=4))
    # Enough connections that pollers of overlapping samples don't queue behind each other.
    replica = await create_pool(Settings(database_url=replica_url, pg_pool_min=8, pg_pool_max=8))
    try:
        until = time.monotonic() + args.seconds
        watching = asyncio.create_task(monitor(primary, replica, until))
        lags, achieved = await write_load(primary, replica, args.rate, args.seconds, args.poll_ms / 1000)
        watched = await watching
    finally:
        await replica.close()
        await primary.close()
    seen = [lag * 1000 for lag in lags if lag is not None] or [float("nan")]
    return {
        "bench": "replica_lag",
        "rate_per_s": round(achieved, 1),
        "samples": len(lags),
        "not_visible_within_10s": sum(lag is None for lag in lags),
        "visible_lag_ms": {q: round(pct(seen, p), 2) for q, p in (("p50", 50), ("p99", 99), ("max", 100))},
        "poll_ms": args.poll_ms,
        "polled": "primary" if args.poll_primary else "replica",
        **{k: round(v, 1) for k, v in watched.items()},
    }


def main() -> None:
    """Start the embedded pair, run, print a JSON line and a markdown row."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=30.0, help="conversations stored per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the load runs")
    parser.add_argument(
        "--poll-ms", type=float, default=1.0, help="how often a sample re-queries the replica"
    )
    parser.add_argument(
        "--poll-primary", action="store_true", help="poll the primary instead: the measurement's own floor"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ringready-replica-lag-"))
    primary = postgres_server(root / "primary", durable=True)
    primary.start()
    replica = None
    try:
        asyncio.run(prepare(primary.url))  # before the copy: the replica starts with the schema
        replica = replica_server(primary, root / "replica", durable=True)
        replica.start()
        polled = primary.url if args.poll_primary else replica.url
        result = asyncio.run(run(primary.url, polled, args))
    finally:
        if replica is not None:
            replica.stop()
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result))
    print(markdown_row(result))


def markdown_row(result: dict[str, Any]) -> str:
    """The docs/BENCHMARKS.md table row for one run."""
    lag = result["visible_lag_ms"]
    return (
        f"| {result['rate_per_s']}/s | {result['samples']} | {result['not_visible_within_10s']} "
        f"| {lag['p50']} ms | {lag['p99']} ms | {lag['max']} ms "
        f"| {result['pg_stat_replication_replay_lag_ms']} ms | {result['replica_replay_age_ms']} ms |"
    )


if __name__ == "__main__":
    main()
