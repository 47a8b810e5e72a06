"""The rate limiter's cost in this checkout against another tree's (a commit before a change to the
limiter), in one sitting.

Three 2-process API servers on one loaded database: limiter off, limiter on (this checkout), and
limiter on from the baseline tree. They take turns for `--pair-seconds` of wrk each, the order
rotating every triple, so all three see nearly the same host; each limiter's cost is the median
over the triples of 1 - its req/s / the off server's req/s in the same triple, with quartiles.
The baseline runs on this checkout's .venv against a Valkey of its own, so the two limiters never
share a bucket and each Valkey's `INFO commandstats` gives its script's cost per EVALSHA under the
same load. Every server uses the bench key (10^9/min: never denied, all work done).

Usage:
    git archive <commit> | tar -x -C /tmp/baseline
    .venv/bin/python -m bench.api_limiter_ab --baseline /tmp/baseline [--filters agent_id] [--triples 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, cast

import redis

from bench import api_load as load
from bench.api_bench import LIMIT, plan_cases, start_apis
from bench.api_setup import Fixture, prepare_sync, start_servers
from bench.ingest_bench import wait_port
from ops.embedded import free_port, valkey_server

OFF, ON, BASELINE = "limiter off", "limiter on", "limiter on (baseline)"


def start_baseline(
    fx: Fixture, tree: Path, redis_url: str, processes: int, connections: int
) -> tuple[int, Any]:
    """bench.api_server from the baseline tree (its own code, this .venv) on its own Redis, warmed up."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGREADY_")}
    env |= {
        "PYTHONPATH": str(tree),
        "RINGREADY_DATABASE_URL": fx.database_url,
        "RINGREADY_REDIS_URL": redis_url,
        "RINGREADY_API_PORT": str(port),
        "RINGREADY_API_PROCESSES": str(processes),
        "RINGREADY_LOG_FORMAT": "json",
    }
    argv = [sys.executable, "-m", "bench.api_server", "--limiter", "on"]
    server = subprocess.Popen(argv, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, 30)
    load.wrk(f"http://127.0.0.1:{port}/api/v1/conversations?limit={LIMIT}", 1, connections, fx.api_key)
    return port, server


def triples(
    fx: Fixture, cases: dict[str, dict[str, Any]], ports: dict[str, int], args: argparse.Namespace
) -> dict[str, Any]:
    """Per first-page case: `args.triples` rotations of off, on and baseline."""
    order = [OFF, ON, BASELINE]
    results: dict[str, Any] = {}
    for name, case in cases.items():
        if not name.endswith("|first"):
            continue
        costs: dict[str, list[float]] = {ON: [], BASELINE: [], "on vs baseline": []}
        non_2xx = 0
        for number in range(args.triples):
            rps = {}
            for config in order[number % 3 :] + order[: number % 3]:
                url = f"http://127.0.0.1:{ports[config]}/api/v1/conversations?{case['query']}"
                result = load.wrk(url, args.pair_seconds, args.connections, fx.api_key)
                rps[config], non_2xx = result["rps"], non_2xx + result["non_2xx"]
            for config in (ON, BASELINE):
                costs[config].append(1 - rps[config] / rps[OFF])
            costs["on vs baseline"].append(1 - rps[ON] / rps[BASELINE])
        results[name] = {config: summary(values) for config, values in costs.items()} | {"non_2xx": non_2xx}
    return results


def script_cost(url: str) -> dict[str, Any]:
    """The limiter script's calls and µs per call, by this Valkey's own clock; the CPU it used."""
    client = redis.Redis.from_url(url)
    try:
        stats = cast(dict[str, Any], client.info("commandstats")).get("cmdstat_evalsha", {})
        cpu = cast(dict[str, Any], client.info("cpu"))
        keys = cast(list[bytes], client.keys("rl:*"))
        memory = {key.decode(): client.memory_usage(key) for key in keys}
    finally:
        client.close()
    return {
        "evalsha_calls": stats.get("calls"),
        "usec_per_evalsha": stats.get("usec_per_call"),
        "cpu_s": cpu["used_cpu_user"] + cpu["used_cpu_sys"],
        "bucket_bytes": memory,
    }


def summary(values: list[float]) -> dict[str, float]:
    """Median and quartiles of one configuration's costs."""
    q1, _, q3 = statistics.quantiles(values, n=4)
    return {"median": statistics.median(values), "q1": q1, "q3": q3}


def main() -> None:
    """Start the servers, load, measure the triples, print JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=Path, required=True, help="a tree of the baseline commit")
    parser.add_argument("--filters", type=lambda v: v.split(","), default=["agent_id"])
    parser.add_argument("--triples", type=int, default=30)
    parser.add_argument("--pair-seconds", type=float, default=1.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    load.require_wrk()
    root = Path(tempfile.mkdtemp(prefix="ringready-limiter-ab-"))
    postgres, valkey = start_servers(root)
    baseline_valkey = valkey_server(root / "baseline")
    baseline_valkey.start()
    servers: list[Any] = []
    try:
        fx = prepare_sync(postgres.url, valkey.url)
        cases = asyncio.run(plan_cases(fx, args.filters))
        started = start_apis(fx, [(args.processes, "off"), (args.processes, "on")], args.connections)
        servers = [server for _, server in started.values()]
        ports = {OFF: started[f"{args.processes} proc, limiter off"][0]}
        ports[ON] = started[f"{args.processes} proc, limiter on"][0]
        ports[BASELINE], baseline = start_baseline(
            fx, args.baseline, baseline_valkey.url, args.processes, args.connections
        )
        servers.append(baseline)
        for url in (valkey.url, baseline_valkey.url):
            redis.Redis.from_url(url).config_resetstat()
        result = triples(fx, cases, ports, args)
        result["valkey"] = {ON: script_cost(valkey.url), BASELINE: script_cost(baseline_valkey.url)}
    finally:
        for server in servers:
            load.stop(server)
        baseline_valkey.stop()
        valkey.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps({"settings": vars(args) | {"baseline": str(args.baseline)}, "cost": result}, indent=2))


if __name__ == "__main__":
    main()
