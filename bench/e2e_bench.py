"""End to end: from the ingest's 2xx to the conversation being visible in the Developer API.

Everything as deployed: `python -m services.ingest`, `python -m services.worker` and
`python -m services.api` (default settings, JSON logs at info) against embedded Postgres
(durable, as `ringready up` runs it) and Valkey (`appendfsync always`), loopback only. One
account, one agent routed by phone number, one key whose rate limit never denies.

Each run: a sender process posts distinct, signed native phone webhooks on a fixed open-loop
schedule (`--rate`/s for `--seconds`), stamping each 2xx; a poller process lists
`GET /api/v1/conversations` every `--poll-ms` and stamps when each conversation first appears
(named by its unique `from` number). Latency = first poll response that lists it - its 2xx, so
it is an upper bound, over by at most one poll cycle (the resolution, reported). A warm-up run
(not counted) comes first. Every accepted conversation must become visible: the bench says
which did not and exits 1 otherwise. Usage:

    .venv/bin/python -m bench.e2e_bench [--rate 300] [--seconds 20] [--runs 3] [--poll-ms 15]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from multiprocessing.context import SpawnContext, SpawnProcess
from pathlib import Path
from typing import Any

import asyncpg

from bench.data import unlimited_read_key
from bench.e2e_cpu import peak_rss_mib, per_conversation, snapshot
from bench.e2e_load import Plan, from_number, parse_from_number, poll, send
from bench.ingest_bench import wait_port
from bench.worker_bench import prepare as prepare_routing
from bench.worker_bench import start_module
from ops.embedded import free_port, postgres_server, valkey_server
from ops.runner import stop_children

TARGET_P99_MS = 1000.0
CHILD_GRACE_S = 60.0


# ---------------------------------------------------------------------------------------------
# Set-up


async def prepare(database_url: str) -> str:
    """The worker bench's schema, account and agent, plus a read key; returns the key."""
    account_id = await prepare_routing(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        return await unlimited_read_key(conn, account_id, "e2e-bench")
    finally:
        await conn.close()


def service_env(database_url: str, redis_url: str, secret: str, ports: dict[str, int]) -> dict[str, str]:
    """The settings every service reads: our servers, our secret, our ports; defaults otherwise."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RINGREADY_")} | {
        "RINGREADY_DATABASE_URL": database_url,
        "RINGREADY_REDIS_URL": redis_url,
        "RINGREADY_WEBHOOK_SECRETS": secret,
        "RINGREADY_INGEST_PORT": str(ports["ingest"]),
        "RINGREADY_API_PORT": str(ports["api"]),
        "RINGREADY_LOG_FORMAT": "json",
        "RINGREADY_LOG_LEVEL": "info",
    }


# ---------------------------------------------------------------------------------------------
# One run


def run_children(ctx: SpawnContext, plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:
    """Sender and poller in their own processes; their records, or an error if either fails."""
    state = ctx.Array("b", plan.count, lock=False)
    results = [ctx.Queue(), ctx.Queue()]
    children: list[SpawnProcess] = [
        ctx.Process(target=send, args=(plan, state, results[0]), daemon=True),
        ctx.Process(target=poll, args=(plan, state, results[1]), daemon=True),
    ]
    try:
        for child in children:
            child.start()
        budget = plan.start_at - time.monotonic() + plan.count / plan.rate + plan.settle_s + CHILD_GRACE_S
        deadline = time.monotonic() + budget
        records = []
        for child, queue in zip(children, results, strict=True):
            # Read before join: a child blocks on exit until its queued record has been read.
            records.append(queue.get(timeout=max(1.0, deadline - time.monotonic())))
            child.join(max(1.0, deadline - time.monotonic()))
        return records[0], records[1]
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
                child.join(10)
        for queue in results:
            queue.close()


async def created_at(database_url: str, run: int) -> dict[int, float]:
    """Each stored conversation's created_at (the worker transaction's start), epoch seconds."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT from_number, created_at FROM conversations WHERE from_number LIKE $1",
            from_number(run, 0)[:-6] + "%",
        )
    finally:
        await conn.close()
    found = {parse_from_number(r["from_number"], run): r["created_at"] for r in rows}
    return {n: moment.timestamp() for n, moment in found.items() if n is not None}


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.4999999))
    return ordered[min(rank, len(ordered)) - 1]


def spread(values: list[float], quantiles: tuple[int, ...] = (50, 90, 99)) -> dict[str, float]:
    """The percentiles (p50/p90/p99 unless told) and the max, in ms."""
    if not values:
        return {}
    return {f"p{q}": round(pct(values, q) * 1000, 1) for q in quantiles} | {
        "max": round(max(values) * 1000, 1)
    }


def summarise(
    plan: Plan, sender: dict[str, Any], poller: dict[str, Any], stored: dict[int, float]
) -> dict[str, Any]:
    """Latency, counts, rate, resolution and the stage split of one run."""
    statuses = sender["statuses"]
    accepted = [n for n in range(plan.count) if 200 <= statuses[n] < 300]
    seen_at = poller["seen_at"]
    visible = [n for n in accepted if seen_at[n]]
    missing = sorted(set(accepted) - set(visible))
    latency = [seen_at[n] - sender["answered_at"][n] for n in visible]
    lower = [max(0.0, poller["seen_before"][n] - sender["answered_at"][n]) for n in visible]
    sent_at = sender["sent_at"]
    polls = poller["polls"]
    starts = [p[0] for p in polls]
    cycle = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    round_trip = [p[1] - p[0] for p in polls]
    # Stage split through created_at (wall clock of the same machine, set by Postgres' now()).
    to_worker = [stored[n] - sender["answered_wall"][n] for n in visible if n in stored]
    wall_offset = time.time() - time.monotonic()  # this process's; only differences are used
    to_visible = [seen_at[n] + wall_offset - stored[n] for n in visible if n in stored]
    answered = [sender["answered_at"][n] - sent_at[n] for n in accepted]
    return {
        "sent": plan.count,
        "accepted": len(accepted),
        "refused": plan.count - len(accepted),
        "refused_statuses": sorted({s for s in statuses if not 200 <= s < 300}),
        "visible": len(visible),
        "missing": len(missing),
        "missing_examples": [from_number(plan.run, n) for n in missing[:5]],
        "send_rate": round((plan.count - 1) / max(1e-9, sent_at[-1] - sent_at[0]), 1),
        "max_send_lateness_ms": round(sender["max_lateness_s"] * 1000, 1),
        "latency_ms": spread(latency),
        "latency_lower_bound_ms": spread(lower),
        "ingest_response_ms": spread(answered),
        "stage_2xx_to_worker_txn_ms": spread(to_worker),
        "stage_worker_txn_to_visible_ms": spread(to_visible),
        "polls": len(polls),
        "poll_cycle_ms_median": round(statistics.median(cycle) * 1000, 1) if cycle else None,
        "poll_round_trip_ms": spread(round_trip),
        "poll_max_pages": max((p[2] for p in polls), default=0),
        "poll_rows_median": statistics.median(p[3] for p in polls) if polls else 0,
        "poll_errors": poller["errors"],
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def one_run(
    ctx: SpawnContext, template: Plan, run: int, seconds: float, database_url: str, pids: dict[str, int]
) -> dict[str, Any]:
    """Send for `seconds`, wait for every conversation, summarise (with CPU per conversation)."""
    plan = replace(
        template,
        run=run,
        count=int(template.rate * seconds),
        base_started_at=time.time() - 600,  # after every earlier run's conversations
        start_at=time.monotonic() + 3.0,  # both children up and signed by then
    )
    cpu_before = snapshot(pids)
    sender, poller = run_children(ctx, plan)
    cpu = per_conversation(cpu_before, snapshot(pids), plan.count)
    stored = asyncio.run(created_at(database_url, run))
    return summarise(plan, sender, poller, stored) | {"cpu_ms_per_conversation": cpu}


def show(label: str, result: dict[str, Any]) -> None:
    """One line per run."""
    lat, res = result["latency_ms"], result["poll_cycle_ms_median"]
    print(
        f"{label}: accepted {result['accepted']}/{result['sent']}, visible {result['visible']}, "
        f"send rate {result['send_rate']}/s | latency p50 {lat.get('p50')} p90 {lat.get('p90')} "
        f"p99 {lat.get('p99')} max {lat.get('max')} ms | poll cycle {res} ms, "
        f"round trip p50 {result['poll_round_trip_ms'].get('p50')} ms | load {result['load_avg']}, "
        f"machine busy {result['cpu_ms_per_conversation']['machine_busy_fraction']:.0%}",
        flush=True,
    )


def median_of(runs: list[dict[str, Any]], section: str) -> dict[str, float]:
    """Per-percentile medians across runs."""
    keys = runs[0][section].keys()
    digits = 3 if section == "cpu_ms_per_conversation" else 1
    return {key: round(statistics.median(r[section][key] for r in runs), digits) for key in keys}


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Servers, services, warm-up, runs; everything stopped on the way out."""
    root = Path(tempfile.mkdtemp(prefix="ringready-e2e-bench-"))
    pg, valkey = postgres_server(root, durable=True), valkey_server(root)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        pg.start()
        valkey.start()
        key = asyncio.run(prepare(pg.url))
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        ports = {"ingest": free_port(), "api": free_port()}
        env = service_env(pg.url, valkey.url, secret, ports)
        for module in ("services.ingest", "services.worker", "services.api"):
            processes.append(start_module(module, env, root / f"{module.split('.')[-1]}.log"))
        for port in ports.values():
            wait_port(port, 60)
        pids = {
            name: process.pid for name, process in zip(("ingest", "worker", "api"), processes, strict=True)
        }
        pids |= {
            "postgres": pg.process.pid if pg.process else 0,
            "valkey": valkey.process.pid if valkey.process else 0,
        }
        template = Plan(
            run=0, count=0, rate=args.rate, base_started_at=0.0,
            ingest_url=f"http://127.0.0.1:{ports['ingest']}", api_url=f"http://127.0.0.1:{ports['api']}",
            api_key=key, secret=secret, poll_interval_s=args.poll_ms / 1000, start_at=0.0,
            settle_s=args.settle,
        )  # fmt: skip
        ctx = multiprocessing.get_context("spawn")
        print(f"{os.cpu_count()} CPUs, load {os.getloadavg()}; logs in {root}", flush=True)
        warm = one_run(ctx, template, 0, args.warmup, pg.url, pids)
        show("warm-up", warm)
        runs = []
        for run in range(1, args.runs + 1):
            runs.append(one_run(ctx, template, run, args.seconds, pg.url, pids))
            show(f"run {run}", runs[-1])
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited with {process.returncode} during the bench")
        peak_rss = peak_rss_mib({name: pids[name] for name in ("ingest", "worker", "api", "valkey")})
    finally:
        stop_children(processes)
        valkey.stop()
        pg.stop()
    return {
        "setup": vars(args) | {"cpus": os.cpu_count(), "target_p99_ms": TARGET_P99_MS},
        "median": {
            section: median_of(runs, section)
            for section in (
                "latency_ms",
                "latency_lower_bound_ms",
                "ingest_response_ms",
                "stage_2xx_to_worker_txn_ms",
                "stage_worker_txn_to_visible_ms",
                "poll_round_trip_ms",
                "cpu_ms_per_conversation",
            )
        }
        | {
            "send_rate": statistics.median(r["send_rate"] for r in runs),
            "poll_cycle_ms": statistics.median(r["poll_cycle_ms_median"] for r in runs),
        },
        "peak_rss_mib": peak_rss,  # after every run: what deploy/k8s's memory requests rest on
        "warm_up": warm,
        "runs": runs,
        "finished_at": datetime.now().isoformat(timespec="seconds"),
    }


def main() -> None:
    """Parse arguments, run, print JSON; exit 1 unless every accepted conversation was visible."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=300.0, help="webhooks per second (open loop)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured sending time per run")
    parser.add_argument("--warmup", type=float, default=5.0, help="sending time of the warm-up run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--poll-ms", type=float, default=15.0, help="API poll interval")
    parser.add_argument("--settle", type=float, default=30.0, help="max wait after the last send")
    args = parser.parse_args()
    result = benchmark(args)
    print(json.dumps(result, indent=2))
    runs = result["runs"]
    failures = [
        f"run {n}: {r['refused']} refused {r['refused_statuses']}, {r['missing']} accepted but never "
        f"visible (e.g. {r['missing_examples']}), poll errors {r['poll_errors']}"
        for n, r in enumerate(runs, 1)
        if r["refused"] or r["missing"] or r["poll_errors"]
    ]
    p99 = result["median"]["latency_ms"]["p99"]
    verdict = "meets" if p99 <= TARGET_P99_MS else "MISSES"
    print(f"median p99 {p99} ms {verdict} the {TARGET_P99_MS:.0f} ms target", file=sys.stderr)
    if failures:
        print("FAILED: not every webhook was accepted and visible:\n" + "\n".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
