"""Webhook in to webhook out: from the moment a provider's webhook is POSTed to the ingest until the
customer's endpoint receives that conversation's `conversation.created`, at a steady rate.

Everything as deployed: `python -m services.ingest` and `python -m services.worker` (default
settings: a 200 ms dispatch interval, 4 deliveries in flight per endpoint; JSON logs at info)
against embedded Postgres (durable) and Valkey (`appendfsync always`), loopback only. One account,
one agent routed by phone number, one webhook endpoint on a receiver in its own process that
stamps each event's arrival. The sender (bench/e2e_load.py's, in its own process) posts distinct
signed native phone webhooks on an open-loop schedule. Both stamp with time.monotonic(), one clock
for every process on the machine. Latency = receiver arrival - POST start, per conversation
(named by its unique `from` number). A warm-up run (not counted) comes first. Usage:

    .venv/bin/python -m bench.webhooks_latency [--rate 100] [--seconds 30] [--warmup 5]
        [--endpoint-concurrency 4] [--dispatch-ms 200]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import secrets
import subprocess
import tempfile
import time
from multiprocessing.context import SpawnContext
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import asyncpg

from bench.e2e_bench import service_env, spread
from bench.e2e_load import Plan, send
from bench.ingest_bench import wait_port
from bench.worker_bench import prepare, start_module
from ops.embedded import free_port, postgres_server, valkey_server
from ops.runner import stop_children
from shared.db.webhook_endpoints import insert_endpoint
from shared.webhooks.signing import generate_secret

TARGET_P99_MS = 500.0  # issue #14's acceptance
PREFIX = "+1555"  # bench.e2e_load.from_number: +1555 <run:02d> <n:06d>


def _named(number: str) -> tuple[int, int] | None:
    """(run, n) of a bench conversation's `from` number."""
    if not number.startswith(PREFIX) or len(number) != len(PREFIX) + 8:
        return None
    return int(number[5:7]), int(number[7:])


def receive(port: int, ready: Event, stop: Event, results: Queue[dict[tuple[int, int], float]]) -> None:
    """Process entry point: the customer's endpoint until `stop`; puts {(run, n): first arrival}."""
    results.put(asyncio.run(_receive(port, ready, stop)))


async def _receive(port: int, ready: Event, stop: Event) -> dict[tuple[int, int], float]:
    from aiohttp import web

    arrived: dict[tuple[int, int], float] = {}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        at = time.monotonic()
        named = _named(json.loads(body)["data"].get("from") or "")
        if named is not None:
            arrived.setdefault(named, at)  # a copy (same webhook-id) keeps the first arrival
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    ready.set()
    await asyncio.to_thread(stop.wait)  # the parent sets it in a finally; a daemon dies with it anyway
    await runner.cleanup()
    return arrived


async def add_endpoint(database_url: str, account_id: int, url: str) -> None:
    """The account's one endpoint, for conversation.created only."""
    conn = await asyncpg.connect(database_url)
    try:
        await insert_endpoint(
            conn, account_id, url=url, secret=generate_secret(), event_types=["conversation.created"]
        )
    finally:
        await conn.close()


async def delivered(database_url: str) -> int:
    """Deliveries logged as succeeded so far."""
    conn = await asyncpg.connect(database_url)
    try:
        done: int = await conn.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'")
        return done
    finally:
        await conn.close()


# Per conversation, on Postgres' clock (the machine's wall clock): when the worker's transaction
# stored it (and wrote its event), and when the first attempt to deliver that event began.
STAGES_SQL = """
SELECT c.from_number, extract(epoch FROM c.created_at) AS stored,
       extract(epoch FROM min(a.attempted_at)) AS attempted
FROM conversations c
JOIN webhook_events e ON e.subject = 'conversation:' || c.id AND e.type = 'conversation.created'
JOIN webhook_deliveries d ON d.event_id = e.id
JOIN webhook_attempts a ON a.delivery_id = d.id
GROUP BY c.from_number, c.created_at
"""
Stages = dict[tuple[int, int], tuple[float, float]]


async def stage_times(database_url: str) -> Stages:
    """{(run, n): (stored, first attempt began)} in epoch seconds."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(STAGES_SQL)
    finally:
        await conn.close()
    named = ((_named(row["from_number"] or ""), row) for row in rows)
    return {key: (float(row["stored"]), float(row["attempted"])) for key, row in named if key is not None}


def send_run(ctx: SpawnContext, plan: Plan) -> dict[str, Any]:
    """The sender's process for one run; its record (sent_at, statuses, ...)."""
    state = ctx.Array("b", plan.count, lock=False)
    results = ctx.Queue()
    child = ctx.Process(target=send, args=(plan, state, results), daemon=True)
    child.start()
    try:
        budget = plan.start_at - time.monotonic() + plan.count / plan.rate + 60
        record: dict[str, Any] = results.get(timeout=budget)
        child.join(10)
        return record
    finally:
        if child.is_alive():
            child.terminate()
            child.join(10)


def spread_ms(values: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in ms."""
    return spread(values, (50, 95, 99))


def summarise(
    plan: Plan, sender: dict[str, Any], arrived: dict[tuple[int, int], float], stages: Stages
) -> dict[str, Any]:
    """Latency (arrival - POST start) of one run's accepted conversations, what never arrived, and
    the stages in between (the wall-clock ones through Postgres' timestamps)."""
    accepted = [n for n in range(plan.count) if 200 <= sender["statuses"][n] < 300]
    got = [n for n in accepted if (plan.run, n) in arrived]
    latency = [arrived[(plan.run, n)] - sender["sent_at"][n] for n in got]
    answered = [sender["answered_at"][n] - sender["sent_at"][n] for n in accepted]
    timed = [n for n in accepted if (plan.run, n) in stages]
    stored = [stages[(plan.run, n)][0] - sender["answered_wall"][n] for n in timed]
    dispatched = [stages[(plan.run, n)][1] - stages[(plan.run, n)][0] for n in timed]
    return {
        "sent": plan.count,
        "accepted": len(accepted),
        "arrived": len(got),
        "missing": len(accepted) - len(got),
        "max_send_lateness_ms": round(sender["max_lateness_s"] * 1000, 1),
        "in_to_out_ms": spread_ms(latency),
        "ingest_response_ms": spread_ms(answered),
        "stage_2xx_to_stored_ms": spread_ms(stored),
        "stage_stored_to_attempt_ms": spread_ms(dispatched),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def runs(
    ctx: SpawnContext, template: Plan, database_url: str, args: argparse.Namespace
) -> list[tuple[Plan, dict[str, Any]]]:
    """Send the warm-up run and the measured one, each waited out until delivered (bounded); each
    plan with its sender's record."""
    done = []
    for run, seconds in ((0, args.warmup), (1, args.seconds)):
        count = int(template.rate * seconds)
        plan = Plan(**(vars(template) | {"run": run, "count": count, "start_at": time.monotonic() + 3.0}))
        before = asyncio.run(delivered(database_url))
        sender = send_run(ctx, plan)
        accepted = sum(1 for status in sender["statuses"] if 200 <= status < 300)
        deadline = time.monotonic() + args.settle
        while asyncio.run(delivered(database_url)) < before + accepted and time.monotonic() < deadline:
            time.sleep(0.2)
        done.append((plan, sender))
    return done


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Servers, receiver, services, runs; everything stopped on the way out."""
    root = Path(tempfile.mkdtemp(prefix="ringready-hooks-latency-"))
    pg, valkey = postgres_server(root, durable=True), valkey_server(root)
    ctx = multiprocessing.get_context("spawn")
    stop, ready, arrivals = ctx.Event(), ctx.Event(), ctx.Queue()
    port = free_port()
    receiver = ctx.Process(target=receive, args=(port, ready, stop, arrivals), daemon=True)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        pg.start()
        valkey.start()
        account_id = asyncio.run(prepare(pg.url))
        receiver.start()
        if not ready.wait(30):
            raise RuntimeError("the receiver did not start")
        asyncio.run(add_endpoint(pg.url, account_id, f"http://127.0.0.1:{port}/hook"))
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        ports = {"ingest": free_port(), "api": free_port()}
        env = service_env(pg.url, valkey.url, secret, ports) | {
            "RINGREADY_WEBHOOK_ALLOW_HTTP": "true",
            "RINGREADY_WEBHOOK_ALLOW_LOOPBACK": "true",
            "RINGREADY_WORKER_METRICS_PORT": "0",
        }
        for option, name in (
            ("endpoint_concurrency", "ENDPOINT_CONCURRENCY"),
            ("dispatch_ms", "DISPATCH_INTERVAL_MS"),
        ):
            if getattr(args, option) is not None:  # else the service's default
                env[f"RINGREADY_WEBHOOK_{name}"] = str(getattr(args, option))
        for module in ("services.ingest", "services.worker"):
            processes.append(start_module(module, env, root / f"{module.split('.')[-1]}.log"))
        wait_port(ports["ingest"], 60)
        template = Plan(
            run=0, count=0, rate=args.rate, base_started_at=time.time() - 600,
            ingest_url=f"http://127.0.0.1:{ports['ingest']}", api_url="", api_key="", secret=secret,
            poll_interval_s=0.0, start_at=0.0, settle_s=args.settle,
        )  # fmt: skip
        print(f"{os.cpu_count()} CPUs, load {os.getloadavg()}; logs in {root}", flush=True)
        sent = runs(ctx, template, pg.url, args)
        stages = asyncio.run(stage_times(pg.url))
        stop.set()
        arrived = arrivals.get(timeout=30)
        receiver.join(10)
    finally:
        stop.set()
        stop_children(processes)
        if receiver.is_alive():
            receiver.terminate()
        valkey.stop()
        pg.stop()
    warm, measured = (summarise(plan, sender, arrived, stages) for plan, sender in sent)
    return {"setup": vars(args) | {"target_p99_ms": TARGET_P99_MS}, "warm_up": warm, "run": measured}


def main() -> None:
    """Parse arguments, run, print JSON; exit 1 if an accepted conversation never arrived."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=100.0, help="conversations per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="the measured run's length")
    parser.add_argument("--warmup", type=float, default=5.0, help="the warm-up run's length (not counted)")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds to wait for the last deliveries")
    parser.add_argument("--endpoint-concurrency", type=int, help="RINGREADY_WEBHOOK_ENDPOINT_CONCURRENCY")
    parser.add_argument("--dispatch-ms", type=int, help="RINGREADY_WEBHOOK_DISPATCH_INTERVAL_MS")
    args = parser.parse_args()
    result = benchmark(args)
    print(json.dumps(result, indent=2))
    raise SystemExit(1 if result["run"]["missing"] else 0)


if __name__ == "__main__":
    main()
