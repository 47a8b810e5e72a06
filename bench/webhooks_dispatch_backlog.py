"""The dispatcher's pass with a backlog of dead endpoints: how long one pass (fan-out + lease, the
real `shared.db.webhook_deliveries.dispatch`) takes when many deliveries are pending for endpoints
that cannot take them, beside a few that are due.

Embedded Postgres (durable, as `ringready up` runs it); one account; `--backlog` pending deliveries
spread over `--endpoints` endpoints that are either disabled (`--state disabled`: manually, or
retried/recovered while disabled) or enabled but failing (`--state failing`: every delivery waiting
for its next retry), each delivery of its own conversation (the ordering check's worst case); and
`--due` deliveries due now at one healthy endpoint, `--cap` of them leased per pass. Each pass runs
in a transaction that is rolled back, so every pass sees the same backlog. Prints the median and
max pass time and the plan of the lease statement. Usage:

    .venv/bin/python -m bench.webhooks_dispatch_backlog [--backlog 50000] [--state disabled|failing]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg

from ops.embedded import postgres_server
from shared.db.accounts import insert_account
from shared.db.migrate import migrate
from shared.db.webhook_deliveries import LEASE_DUE_SQL, dispatch

EVENTS_SQL = """
INSERT INTO webhook_events (type, account_id, subject, payload, dispatched_at)
SELECT 'conversation.created', $1, 'conversation:' || g, '{}'::json, now() FROM generate_series(1, $2) AS g
"""
ENDPOINTS_SQL = """
INSERT INTO webhook_endpoints (account_id, url, secret, enabled, disabled_reason, failing_since)
SELECT $1, 'https://hooks.example.com/' || g, 'whsec_x', NOT $3, NULL, now() - interval '1 day'
FROM generate_series(1, $2) AS g
"""
HEALTHY_SQL = "INSERT INTO webhook_endpoints (account_id, url, secret) VALUES ($1, 'https://ok.example.com/', 'whsec_x') RETURNING id"  # noqa: E501
# The backlog: event i to dead endpoint i % n, waiting for a retry an hour away (a disabled
# endpoint's would be due: it is the endpoint, not the time, that keeps them back).
BACKLOG_SQL = """
INSERT INTO webhook_deliveries (event_id, endpoint_id, subject, attempts, next_attempt_at)
SELECT e.id, w.ids[1 + e.id % cardinality(w.ids)], e.subject, 3,
       CASE WHEN $3 THEN now() ELSE now() + interval '1 hour' END
FROM webhook_events e, (SELECT array_agg(id ORDER BY id) AS ids FROM webhook_endpoints WHERE id <> $2) w
WHERE e.id <= $1
"""
DUE_SQL = """
INSERT INTO webhook_deliveries (event_id, endpoint_id, subject)
SELECT id, $2, subject FROM webhook_events WHERE id > $1
"""


async def fill(conn: asyncpg.Connection, backlog: int, endpoints: int, due: int, disabled: bool) -> None:
    """One account, the dead endpoints with their backlog, and one healthy endpoint with `due`."""
    account_id = await insert_account(conn, "bench@example.com", "growth")
    await conn.execute(EVENTS_SQL, account_id, backlog + due)
    await conn.execute(ENDPOINTS_SQL, account_id, endpoints, disabled)
    healthy = await conn.fetchval(HEALTHY_SQL, account_id)
    await conn.execute(BACKLOG_SQL, backlog, healthy, disabled)
    await conn.execute(DUE_SQL, backlog, healthy)
    await conn.execute("VACUUM ANALYZE")


async def passes(conn: asyncpg.Connection, count: int, cap: int) -> list[float]:
    """`count` dispatcher passes (each rolled back), in milliseconds; each must lease the due ones."""
    times = []
    for _ in range(count):
        tx = conn.transaction()
        await tx.start()
        started = time.perf_counter()
        leased = await dispatch(conn, fan_out_limit=1000, lease_s=56.0, per_endpoint=cap)
        times.append((time.perf_counter() - started) * 1000)
        await tx.rollback()
        if not leased:
            raise RuntimeError("a pass leased nothing: the due deliveries are missing")
    return times


async def run(url: str, args: argparse.Namespace) -> None:
    """Fill, time, explain."""
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        await fill(conn, args.backlog, args.endpoints, args.due, args.state == "disabled")
        await passes(conn, 3, args.cap)  # warm the cache and the prepared statements
        times = await passes(conn, args.passes, args.cap)
        median, worst = statistics.median(times), max(times)
        print(f"{args.backlog} pending at {args.endpoints} {args.state} endpoints + {args.due} due: "
              f"pass median {median:.1f} ms, max {worst:.1f} ms ({args.passes} passes)")  # fmt: skip
        tx = conn.transaction()  # EXPLAIN ANALYZE runs the UPDATE: rolled back too
        await tx.start()
        plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {LEASE_DUE_SQL}", 56.0, args.cap)
        await tx.rollback()
        print("\n".join(row[0] for row in plan))
    finally:
        await conn.close()


def main() -> None:
    """Entry point: an embedded Postgres under a temp dir, then run()."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backlog", type=int, default=50_000)
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--state", choices=("disabled", "failing"), default="disabled")
    parser.add_argument("--passes", type=int, default=20)
    parser.add_argument("--cap", type=int, default=4, help="deliveries in flight per endpoint (the setting)")
    args = parser.parse_args()
    pg = postgres_server(Path(tempfile.mkdtemp(prefix="ringready-bench-backlog-")), durable=True)
    pg.start()
    try:
        asyncio.run(run(pg.url, args))
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
