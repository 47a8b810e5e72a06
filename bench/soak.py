"""Chaos soak with exact accounting: signed webhooks from every source while the stack is broken
on a schedule, then a drain and a reconciliation of every 2xx against what is stored.

Loopback only, bounded in time. It starts its own embedded Postgres (durable) and Valkey (AOF,
fsync always) in a temp dir, or uses the servers named by RINGREADY_DATABASE_URL and
RINGREADY_REDIS_URL (a fresh database and queue on them; the server faults are then skipped);
migrates; creates an account, two agents and a read key; and runs `python -m services.api`,
`services.ingest` and `services.worker` as real processes.

For `--minutes`, calls arrive at `--calls-per-s`, in turn from phone, web-chat, vapi, retell
and elevenlabs, each with its deliveries (bench/soak_events.py: retries of the same delivery,
later richer versions, replays, out-of-order events): about 2 webhooks per call. A refused
delivery (non-2xx, or no answer) is retried as a provider would, 1 s doubling to 8 s apart,
until 30 s after the traffic stops. Meanwhile a reader lists `GET /api/v1/conversations` every
`--poll-s` for the accepted calls it has not seen yet, and a controller, every
`--fault-interval` seconds, in turn: SIGKILLs the worker and starts another; restarts the ingest
(SIGTERM, next time SIGKILL); restarts Valkey (SIGKILL, next time SIGTERM; down 2 s, same AOF);
SIGSTOPs Postgres (postmaster and backends) for 10 s, then SIGCONT.

Then it drains (bounded: until no event job is queued and the reader has seen every accepted
call) and reconciles (bench/soak_reconcile.py). It prints the accounting and exits 1 unless
lost, duplicates and mismatched are all 0 (nor any request rejected as malformed, nor a
service found dead). Usage:

    .venv/bin/python -m bench.soak --minutes 2     # CI (tests/soak/test_soak.py)
    .venv/bin/python -m bench.soak --minutes 30    # the documented run (docs/RELIABILITY.md)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from bench.e2e_bench import pct
from bench.soak_events import STARTED_BEFORE_S, Call, Secrets, make_call
from bench.soak_reconcile import as_dict, reconcile_api, reconcile_database
from bench.soak_stack import Demo, Stack, create_demo
from bench.soak_traffic import POST_TIMEOUT_S, Reader, Sender

RETRY_GRACE_S = 30.0  # refused deliveries are retried this long after the traffic stops
FAULT_QUIET_END_S = 15.0  # no fault starts this close to the end of the traffic
VALKEY_DOWN_S = 2.0
INGEST_DOWN_S = 1.0
WORKER_DOWN_S = 1.0
POSTGRES_PAUSE_S = 10.0
FAULTS = ("worker", "ingest", "valkey", "postgres")


@dataclass
class Chaos:
    """The controller: one fault at a time, in turn, on a schedule."""

    stack: Stack
    log: list[str] = field(default_factory=list)
    done: dict[str, int] = field(default_factory=dict)

    async def run(self, t0: float, first_s: float, interval_s: float, last_start: float) -> None:
        """Inflict FAULTS in turn from t0 + first_s, one every interval_s, until last_start."""
        due = t0 + first_s
        for turn in range(10_000):
            if due > last_start:
                return
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            kind = FAULTS[turn % len(FAULTS)]
            variant = (turn // len(FAULTS)) % 2  # every other round: the harsher/gentler signal
            started = time.monotonic()
            what = await self._inflict(kind, variant)
            self.done[what] = self.done.get(what, 0) + 1
            self.log.append(f"t+{started - t0:6.1f}s {what} ({time.monotonic() - started:.1f} s)")
            print(f"  chaos: {self.log[-1]}", flush=True)
            due = max(due + interval_s, time.monotonic())

    async def _inflict(self, kind: str, variant: int) -> str:
        stack = self.stack
        if kind == "worker":
            held = await in_progress(stack.redis_url)
            await stack.restart_service("worker", signal.SIGKILL, WORKER_DOWN_S)
            return f"worker SIGKILL ({held} in-progress keys) + restart"
        if kind == "ingest":
            signum = signal.SIGTERM if variant == 0 else signal.SIGKILL
            await stack.restart_service("ingest", signum, INGEST_DOWN_S)
            return f"ingest {signum.name} + restart"
        if kind == "valkey":
            if stack.valkey is None:
                return "valkey restart skipped (external Redis)"
            await stack.restart_valkey(kill=variant == 0, down_s=VALKEY_DOWN_S)
            return f"valkey {'SIGKILL' if variant == 0 else 'SIGTERM'} + restart"
        if stack.postgres is None:
            return "postgres pause skipped (external Postgres)"
        if variant == 0:
            await stack.pause_postgres(POSTGRES_PAUSE_S)
            return f"postgres SIGSTOP {POSTGRES_PAUSE_S:.0f} s + SIGCONT"
        # The worker's jobs wait on the paused Postgres: kill it while it holds them.
        pausing = asyncio.create_task(stack.pause_postgres(POSTGRES_PAUSE_S))
        try:
            await asyncio.sleep(POSTGRES_PAUSE_S / 2)
            held = await in_progress(stack.redis_url)
            await stack.restart_service("worker", signal.SIGKILL, WORKER_DOWN_S)
        finally:
            await pausing
        pause = f"postgres SIGSTOP {POSTGRES_PAUSE_S:.0f} s"
        return f"{pause}, worker SIGKILL mid-pause ({held} in-progress keys)"


async def in_progress(redis_url: str) -> int:
    """Event jobs a worker holds right now (arq's in-progress keys); -1 if Redis is away."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        return len(await client.keys("arq:in-progress:conv:*"))
    except (aioredis.RedisError, OSError):
        return -1
    finally:
        await client.aclose()


async def queued_events(redis_url: str, queue_name: str) -> int:
    """Event jobs still on the queue (running ones stay queued until done); -1 if Redis is away."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        return sum(1 for job in await client.zrange(queue_name, 0, -1) if job.startswith(b"conv:"))
    except (aioredis.RedisError, OSError):
        return -1
    finally:
        await client.aclose()


async def drain(stack: Stack, reader: Reader, timeout_s: float) -> float | None:
    """Wait until no event job is queued and the reader has seen every accepted call: the seconds
    it took, or None when timeout_s ran out first."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if not reader.unseen and await queued_events(stack.redis_url, stack.queue_name) == 0:
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    return None


async def generate(
    sender: Sender,
    calls: dict[str, Call],
    run: str,
    args: argparse.Namespace,
    t0: float,
    end: float,
    demo: Demo,
) -> None:
    """A new call every 1 / calls_per_s seconds until `end`, its deliveries queued on the sender."""
    for n in range(10**7):
        due = t0 + n / args.calls_per_s
        if due >= end:
            return
        await asyncio.sleep(max(0.0, due - 0.2 - time.monotonic()))
        wall = time.time() + (due - time.monotonic())
        call = make_call(run, n, wall, args.seed, demo.chat_agent_id)
        calls[call.marker] = call
        sender.schedule(call, due)


async def traffic(stack: Stack, demo: Demo, args: argparse.Namespace) -> dict[str, Any]:
    """Send, break things, drain, reconcile; the report."""
    run = f"{secrets.randbelow(90) + 10}x{secrets.token_hex(3)}"
    calls: dict[str, Call] = {}
    t0 = time.monotonic() + 1.0
    end = t0 + args.minutes * 60
    api_url, ingest_url = (f"http://127.0.0.1:{stack.ports[n]}" for n in ("api", "ingest"))
    sender = Sender(ingest_url, stack.secrets, retry_until=end + RETRY_GRACE_S)
    reader = Reader(api_url, demo.api_key, args.poll_s, calls)
    sender.on_accepted = reader.accepted
    chaos = Chaos(stack)
    stop_reading = asyncio.Event()
    first_wall = datetime.now(UTC)
    connector = aiohttp.TCPConnector(limit=128)
    timeout = aiohttp.ClientTimeout(total=POST_TIMEOUT_S)
    headers = {"Authorization": f"Bearer {demo.api_key}"}
    async with (
        aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
        aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=5)) as api,
    ):
        reading = asyncio.create_task(reader.run(api, stop_reading))
        breaking = asyncio.create_task(
            chaos.run(t0, args.first_fault_s, args.fault_interval, end - FAULT_QUIET_END_S)
        )
        try:
            await asyncio.gather(
                generate(sender, calls, run, args, t0, end, demo), sender.run(session, end), breaking
            )
            print(
                f"traffic done: {sender.tally.attempts} POSTs, {sender.pending()} deliveries retrying",
                flush=True,
            )
            await asyncio.wait_for(sender.finish(), RETRY_GRACE_S + POST_TIMEOUT_S + 10)
            drained = await drain(stack, reader, args.drain_timeout)
            print(f"drained in {drained} s" if drained is not None else "drain timed out", flush=True)
        finally:
            stop_reading.set()
            breaking.cancel()
            await asyncio.gather(reading, breaking, return_exceptions=True)
    exited = stack.exited()
    accounting = await reconcile_database(stack.database_url, run, calls)
    since = first_wall - timedelta(seconds=STARTED_BEFORE_S + 60)  # before every call's start
    accounting.visible_in_api, api_extra = await reconcile_api(api_url, demo.api_key, since, calls)
    accounting.duplicates += api_extra
    latencies = reader.latencies()
    return {
        "run": run,
        "minutes": args.minutes,
        "calls_sent": sum(1 for call in calls.values() if call.attempted),
        "tally": sender.tally.__dict__ | {"refused_by": dict(sender.tally.refused_by)},
        "accounting": as_dict(accounting),
        "latency_s": {
            "seen": len(latencies),
            "p50": round(pct(latencies, 50), 3) if latencies else None,
            "p99": round(pct(latencies, 99), 3) if latencies else None,
            "max": round(max(latencies), 3) if latencies else None,
        },
        "api_reads": {"polls": reader.polls, "requests": reader.requests, "errors": dict(reader.errors)},
        "faults": chaos.log,
        "fault_counts": _by_kind(chaos.done),
        "drain_s": None if drained is None else round(drained, 1),
        "service_starts": dict(stack.starts),
        "services_exited": exited,
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def _by_kind(done: dict[str, int]) -> dict[str, int]:
    """Fault counts without the per-fault detail (jobs held at the kill)."""
    kinds: dict[str, int] = {}
    for what, count in done.items():
        kind = what.split(" (")[0]
        kinds[kind] = kinds.get(kind, 0) + count
    return kinds


def verdict(report: dict[str, Any]) -> list[str]:
    """Why the soak failed; empty when it passed."""
    acc, tally = report["accounting"], report["tally"]
    failures = [f"{acc[key]} {key}" for key in ("lost", "duplicates", "mismatched") if acc[key]]
    if tally["rejected"]:
        failures.append(f"{tally['rejected']} rejected as malformed: {tally['rejected_examples']}")
    if report["services_exited"]:
        failures.append(f"services died on their own: {report['services_exited']}")
    if not acc["calls"]:
        failures.append("nothing was accepted")
    return failures


def show(report: dict[str, Any]) -> None:
    """The summary lines."""
    tally, acc, lat = report["tally"], report["accounting"], report["latency_s"]
    rows = [
        ("soak", f"{report['run']}: {report['minutes']} min, {report['calls_sent']} calls"),
        ("sent", f"{tally['attempts']} webhook POSTs ({tally['deliveries']} deliveries)"),
        ("accepted", f"{tally['accepted']} deliveries ({tally['ignored']} acknowledged, not stored)"),
        ("refused", f"{tally['refused']} attempts {tally['refused_by']}, then retried"),
        ("retried", f"{tally['retried']} deliveries accepted on a retry; abandoned {tally['abandoned']}"),
        ("rejected", f"{tally['rejected']} {tally['rejected_examples']}"),
        (
            "calls",
            f"{acc['calls']} accepted, stored {acc['stored']}, listed by the API {acc['visible_in_api']}",
        ),
        ("duplicates", f"{acc['duplicates']} {acc['duplicate_examples']}"),
        ("lost", f"{acc['lost']} {acc['lost_examples']}"),
        ("mismatched", f"{acc['mismatched']} {acc['mismatch_examples']}"),
        (
            "unconfirmed",
            f"{acc['unconfirmed_stored']} stored without a 2xx; dead letters {acc['dead_letters']}",
        ),
        (
            "latency",
            f"2xx -> listed: p50 {lat['p50']} s, p99 {lat['p99']} s, max {lat['max']} s ({lat['seen']})",
        ),
        ("api reads", str(report["api_reads"])),
        (
            "faults",
            f"{len(report['faults'])}; starts {report['service_starts']}; drain {report['drain_s']} s",
        ),
        ("load", str(report["load_avg"])),
    ]
    print("\n".join(f"{name:<12}{text}" for name, text in rows), flush=True)


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    """Stack up, traffic, stack down (always)."""
    root = Path(tempfile.mkdtemp(prefix="ringready-soak-"))
    stack = Stack(
        root=root,
        secrets=Secrets.generate(),
        job_timeout_s=args.job_timeout,
        external_database_url=os.environ.get("RINGREADY_DATABASE_URL", ""),
        external_redis_url=os.environ.get("RINGREADY_REDIS_URL", ""),
    )
    print(f"soak: logs in {root}", flush=True)
    passed = False
    try:
        await stack.start_servers()
        demo = await create_demo(stack.database_url)
        await stack.start_services()
        report = await traffic(stack, demo, args)
        passed = not verdict(report)
        return report
    finally:
        await stack.close()
        if passed and not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    """Parse arguments, soak, print; exit 1 unless nothing was lost, duplicated or mismatched."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=2.0, help="how long webhooks are sent")
    parser.add_argument(
        "--calls-per-s", type=float, default=15.0, help="new calls per second (~2 webhooks each)"
    )
    parser.add_argument("--poll-s", type=float, default=0.25, help="API list poll interval")
    parser.add_argument("--fault-interval", type=float, default=15.0, help="seconds between fault starts")
    parser.add_argument("--first-fault-s", type=float, default=10.0, help="first fault this long after start")
    parser.add_argument("--job-timeout", type=int, default=10, help="RINGREADY_JOB_TIMEOUT_S for the worker")
    parser.add_argument(
        "--drain-timeout", type=float, default=120.0, help="max wait for the worker to catch up"
    )
    parser.add_argument("--seed", type=int, default=1, help="the delivery mix's random seed")
    parser.add_argument("--json", type=Path, help="also write the report here as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs) even on success")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, through every finally: paused Postgres resumed, all stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        report = asyncio.run(soak(args))
    except KeyboardInterrupt as stop:
        print(f"soak interrupted ({stop}); everything it started is stopped", file=sys.stderr)
        sys.exit(130)
    show(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    failures = verdict(report)
    if failures:
        print("SOAK FAILED: " + "; ".join(failures), file=sys.stderr)
        sys.exit(1)
    print("SOAK PASSED: every accepted webhook stored exactly once, with its content", flush=True)


if __name__ == "__main__":
    main()
