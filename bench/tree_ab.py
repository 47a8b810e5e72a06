"""Before/after for a change on a hot path: the same load against a service started from a baseline
tree and from this tree, in one sitting.

Each tree serves with its own code and packages (`<tree>/.venv/bin/python -m services.<name>`, cwd =
the tree), one process, on the same Valkey (and Postgres for the API). The two take turns for
`--seconds` of wrk each, the order reversing every round; the report gives per tree the medians of
req/s, p50 and p99 and the CPU per request of the service process (utime + stime from /proc over the
run, divided by its requests) and of Valkey, then after/before as the ratio of the medians and the
median of the per-round ratios (each round's pair runs seconds apart, so that one is steadier).

- ingest: bench/ingest_bench.py's load (wrk + ingest_wrk.lua, every request a distinct signed Vapi
  report, 64 connections) with its queue check; Valkey is flushed before each run.
- worker: bench/tree_ab_worker.py (the same queue of distinct events drained by each tree's worker;
  conversations stored per second and CPU per conversation).
- api: `GET /api/v1/conversations?limit=50` (and the agent_id filter) on bench/api_setup.py's
  1,000,000 conversations with the bench key, 32 connections, the limiter on as in production
  (`python -m services.api`). The key's bucket is deleted before each run: the baseline's limiter
  may keep another type under the same Redis key.

Usage (the baseline tree needs its own .venv: `make install` in it):

    git worktree add --detach /tmp/base <commit> && make -C /tmp/base install
    .venv/bin/python -m bench.tree_ab --baseline /tmp/base [--services ingest,worker,api]
        [--rounds 7] [--seconds 5]
        [--json FILE]  # the table goes to stderr
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import redis

from bench import api_load as load
from bench import data, tree_ab_worker
from bench import ingest_bench as ingest
from bench.api_bench import LIMIT, combinations
from bench.api_setup import Fixture, prepare_sync, start_servers
from bench.e2e_cpu import process_cpu_s
from ops.embedded import die_with_parent, free_port

TREES = ("before", "after")
METRICS = ("rps", "p50_ms", "p99_ms", "cpu_us_per_req", "valkey_us_per_req")
API_CASES = ("none", "agent_id")


def start(tree: Path, module: str, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """`python -m module` from that tree's .venv, cwd = the tree (so its code, its packages)."""
    env = {k: v for k, v in env.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    argv = [str(tree / ".venv" / "bin" / "python"), "-m", module]
    process = subprocess.Popen(
        argv,
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    try:
        ingest.wait_port(port, 30)
    except BaseException:
        stop(process)
        raise
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM and wait; SIGKILL if it does not go within 30 s."""
    try:
        load.stop(process)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def timed(pid: int, valkey_pid: int, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One run with the CPU the service process and Valkey spent during it, per request."""
    cpu, vk = process_cpu_s(pid), process_cpu_s(valkey_pid)
    result = run()
    requests = max(1, result["requests"])
    result["cpu_us_per_req"] = round((process_cpu_s(pid) - cpu) / requests * 1e6, 1)
    result["valkey_us_per_req"] = round((process_cpu_s(valkey_pid) - vk) / requests * 1e6, 1)
    return result | {"load1": os.getloadavg()[0]}


def alternate(
    servers: dict[str, tuple[int, subprocess.Popen[bytes]]],
    cases: list[str],
    args: argparse.Namespace,
    run: Callable[[str, int, str], dict[str, Any]],
) -> dict[str, Any]:
    """`rounds` rounds; per case, each tree once, before first in even rounds, after first in odd."""
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {case: {tree: [] for tree in TREES} for case in cases}
    for number in range(args.rounds):
        for case in cases:
            for tree in TREES if number % 2 == 0 else TREES[::-1]:
                port, process = servers[tree]
                tag = f"r{number}-{tree}-{case}"
                runs[case][tree].append(timed(process.pid, args.valkey_pid, partial(run, case, port, tag)))
    return {case: summarise(by_tree) for case, by_tree in runs.items()}


def summarise(runs: dict[str, list[dict[str, Any]]], metrics: tuple[str, ...] = METRICS) -> dict[str, Any]:
    """Medians per tree, after/before of the medians and the median of the per-round ratios."""
    median = {tree: {m: statistics.median(r[m] for r in runs[tree]) for m in metrics} for tree in TREES}
    ratio = {m: round(median["after"][m] / median["before"][m], 3) for m in metrics}
    pairs = list(zip(runs["before"], runs["after"], strict=True))
    per_round = {m: [a[m] / b[m] for b, a in pairs] for m in metrics}
    loads = [r["load1"] for rs in runs.values() for r in rs]
    return {
        "metrics": metrics,
        "median": median,
        "after/before (medians)": ratio,
        "after/before (median of rounds)": {m: round(statistics.median(v), 3) for m, v in per_round.items()},
        "load1 range": [min(loads), max(loads)],
        "failures": sum(r.get("failures", 0) for rs in runs.values() for r in rs),
        "runs": runs,
    }


def ingest_ab(args: argparse.Namespace) -> dict[str, Any]:
    """The ingest bench's load (distinct signed Vapi reports) on both trees, alternating."""
    client = redis.Redis.from_url(args.redis_url)

    def run(case: str, port: int, tag: str) -> dict[str, Any]:
        client.flushall()
        result = ingest.measure("ingest", port, args, args.seconds, tag)
        failures = result["non_2xx"] + result["socket_errors"] + (not result["queue_check"])
        return result | {
            "rps": result["accepted_per_s"],
            "requests": result["accepted"],
            "failures": failures,
        }

    servers: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
    try:
        for tree in TREES:
            port = free_port()
            env = ingest.ingest_env(args.redis_url, port, 1, "info")
            servers[tree] = (port, start(args.tree[tree], "services.ingest", env, port))
            ingest.measure("ingest", port, args, 2, f"warm-{tree}")
        return alternate(servers, ["vapi"], args, run)
    finally:
        client.close()
        for _, process in servers.values():
            stop(process)


def api_ab(args: argparse.Namespace, fx: Fixture) -> dict[str, Any]:
    """First pages of the list, unfiltered and by agent_id, limiter on, on both trees, alternating."""
    queries = {name: {"limit": LIMIT} | combinations(fx)[name] for name in API_CASES}
    client = redis.Redis.from_url(args.redis_url)

    def url(port: int, case: str) -> str:
        return f"http://127.0.0.1:{port}/api/v1/conversations?{urlencode(queries[case])}"

    def run(case: str, port: int, tag: str) -> dict[str, Any]:
        for key in client.scan_iter("rl:*"):
            client.delete(key)
        result = load.wrk(url(port, case), args.seconds, args.api_connections, fx.api_key)
        # wrk's rate is its requests over its measured duration (≈ --seconds).
        return result | {"requests": round(result["rps"] * args.seconds), "failures": result["non_2xx"]}

    servers: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
    try:
        for tree in TREES:
            port = free_port()
            env = os.environ | {
                "RINGREADY_DATABASE_URL": fx.database_url,
                "RINGREADY_REDIS_URL": fx.redis_url,
                "RINGREADY_API_PORT": str(port),
                "RINGREADY_API_PROCESSES": "1",
                "RINGREADY_LOG_FORMAT": "json",
            }
            servers[tree] = (port, start(args.tree[tree], "services.api", env, port))
            for case in API_CASES:
                load.wrk(url(port, case), 2, args.api_connections, fx.api_key)
        return alternate(servers, list(API_CASES), args, run)
    finally:
        client.close()
        for _, process in servers.values():
            stop(process)


def table(results: dict[str, Any]) -> str:
    """Markdown: per service and case, the medians of both trees and after/before (the worker's
    rate is conversations stored per second, its CPU per conversation; it has no latencies)."""
    lines = [
        "| service, case | req/s before → after | p50 ms | p99 ms | CPU µs/req service | CPU µs/req Valkey"
        " | load1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for service, cases in results.items():
        for case, r in cases.items():
            cells = []
            for m in METRICS:
                if m not in r["metrics"]:
                    cells.append("–")
                    continue
                b, a = r["median"]["before"][m], r["median"]["after"][m]
                ratio, rounds = r["after/before (medians)"][m], r["after/before (median of rounds)"][m]
                cells.append(f"{b:,.1f} → {a:,.1f} (×{ratio:.3f}; rounds ×{rounds:.3f})")
            low, high = r["load1 range"]
            lines.append(f"| {service}, {case} | " + " | ".join(cells) + f" | {low:.1f}–{high:.1f} |")
    return "\n".join(lines)


def main() -> None:
    """Start Valkey (+ Postgres with the API's data), measure each service, print JSON and a table."""
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--baseline", type=Path, required=True, help="a tree of the baseline commit, with .venv"
    )
    parser.add_argument("--services", type=lambda v: v.split(","), default=["ingest", "api", "worker"])
    parser.add_argument("--worker-events", type=int, default=5_000, help="queued per worker run")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64, help="ingest (as bench.ingest_bench)")
    parser.add_argument("--api-connections", type=int, default=32, help="api (as bench.api_bench)")
    parser.add_argument("--json", type=Path, help="write the full results here (default: stdout)")
    parser.add_argument(
        "--rows", type=int, default=data.BIG_ACCOUNT_ROWS, help="big account's; less to smoke-test"
    )
    args = parser.parse_args()
    args.threads = 1
    load.require_wrk()
    args.tree = {"before": args.baseline.resolve(), "after": Path(__file__).resolve().parent.parent}
    args.root = Path(tempfile.mkdtemp(prefix="ringready-tree-ab-"))
    postgres, valkey = start_servers(args.root)
    results: dict[str, Any] = {}
    try:
        args.redis_url, args.valkey_pid = valkey.url, valkey.pid
        if "ingest" in args.services:
            results["ingest"] = ingest_ab(args)
        if "worker" in args.services:
            runs = tree_ab_worker.worker_runs(args, postgres.url, TREES)
            results["worker"] = {"drain": summarise(runs, tree_ab_worker.METRICS)}
        if "api" in args.services:
            data.BIG_ACCOUNT_ROWS = args.rows  # read by data.load at call time
            fx = prepare_sync(postgres.url, valkey.url)
            results["api"] = api_ab(args, fx)
    finally:
        valkey.stop()
        postgres.stop()
        shutil.rmtree(args.root, ignore_errors=True)
    settings = {
        k: str(v) for k, v in vars(args).items() if k not in ("tree", "root", "redis_url", "valkey_pid")
    }
    report = json.dumps({"settings": settings, "results": results}, indent=2, default=str)
    if args.json:
        args.json.write_text(report + "\n")
    else:
        print(report)
    print(table(results), file=sys.stderr)
    sys.exit(1 if any(c["failures"] for cases in results.values() for c in cases.values()) else 0)


if __name__ == "__main__":
    main()
