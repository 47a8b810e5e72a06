"""Valkey's own cost per limiter EVALSHA: this checkout's window.lua against a baseline script.

No HTTP and no API process: one embedded Valkey, pipelined EVALSHAs deciding `--count` hits each
(the batch size the API's coalescing reaches under load), `INFO commandstats` reset before each
measurement, so the number is Valkey's µs per call by its own clock. Configurations alternate
within each round; the report is the median over rounds. Window buckets are measured at a steady
size (trimmed back to it before each measurement) and, for a bucket at its limit, on denials.

Usage:
    git show <commit>:services/api/gcra.lua > /tmp/gcra.lua
    .venv/bin/python -m bench.limiter_scripts --baseline /tmp/gcra.lua [--rounds 7]
The baseline is called like gcra.lua (limit, emission interval in µs, count).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any, cast

import redis

from ops.embedded import valkey_server
from services.api.access.limiter import PERIOD_S, WINDOW_SCRIPT

UNLIMITED = 1_000_000_000  # the API bench key's limit: never denied
WINDOW_US = PERIOD_S * 1_000_000


def usec_per_call(
    client: redis.Redis, sha: str, key: str, args: tuple[int, int], count: int, calls: int
) -> float:
    """Valkey's mean µs per EVALSHA over `calls` calls, pipelined 200 at a time."""
    client.config_resetstat()
    pipe = client.pipeline(transaction=False)
    for number in range(calls):
        pipe.evalsha(sha, 1, key, str(args[0]), str(args[1]), str(count))
        if number % 200 == 199:
            pipe.execute()
    pipe.execute()
    stats = cast(dict[str, Any], client.info("commandstats"))
    return float(stats["cmdstat_evalsha"]["usec_per_call"])


def trim(client: redis.Redis, key: str, size: int) -> None:
    """Keep the newest `size` entries of a window bucket."""
    client.zremrangebyrank(key, 0, -size - 1)


def main() -> None:
    """Alternate the configurations for `--rounds` rounds; print medians as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=Path, required=True, help="the old script (gcra.lua)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--count", type=int, default=5, help="hits decided per EVALSHA")
    parser.add_argument("--calls", type=int, default=2000, help="EVALSHAs per measurement")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ringready-limiter-scripts-"))
    server = valkey_server(root)
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        baseline = cast(str, client.script_load(args.baseline.read_bytes()))
        window = cast(str, client.script_load(WINDOW_SCRIPT))
        # name: (sha, key, (limit, 2nd argument), steady size of a window bucket or 0)
        configs = {
            "baseline, never denied": (baseline, "base", (UNLIMITED, -(-WINDOW_US // UNLIMITED)), 0),
            "window, never denied, 30,000 in the window": (window, "w30k", (UNLIMITED, WINDOW_US), 30_000),
            "window, never denied, 100 in the window": (window, "w100", (UNLIMITED, WINDOW_US), 100),
            "window, 60/min key at its limit (denials)": (window, "full", (60, WINDOW_US), 60),
        }
        for _, key, limit_args, size in configs.values():  # fill the window buckets to their size
            while size and cast(int, client.zcard(key)) < size:
                usec_per_call(client, window, key, limit_args, 50, min(size, 100))
        results: dict[str, list[float]] = {name: [] for name in configs}
        for _ in range(args.rounds):
            for name, (sha, key, limit_args, size) in configs.items():
                if size:
                    trim(client, key, size)
                results[name].append(usec_per_call(client, sha, key, limit_args, args.count, args.calls))
        client.close()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    report = {name: {"median_usec": statistics.median(v), "rounds": v} for name, v in results.items()}
    print(
        json.dumps(
            {"settings": vars(args) | {"baseline": str(args.baseline)}, "usec_per_evalsha": report}, indent=2
        )
    )


if __name__ == "__main__":
    main()
