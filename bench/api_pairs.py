"""The rate limiter's cost as many short back-to-back pairs: limiter off, then on (or on, then off).

This host's speed drifts by ±20 % from one 3 s window to the next, which is as large as the
effect measured. Short windows taken one right after the other see nearly the same host, and
alternating which side goes first cancels what drift remains; the median of many pairs' ratios
is the estimate (with its quartiles, to show the spread).
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from bench import api_load as load
from bench.api_setup import Fixture


def limiter_pairs(
    fx: Fixture, cases: dict[str, dict[str, Any]], servers: dict[str, int], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """Per first-page case: `args.limiter_pairs` pairs of `args.pair_seconds` wrk runs on the
    servers named '... limiter off' and '... limiter on' (ports in `servers`)."""
    off, on = (f"{args.limiter_processes} proc, limiter {state}" for state in ("off", "on"))
    results: dict[str, dict[str, Any]] = {}
    for name, case in cases.items():
        if not name.endswith("|first"):
            continue
        costs, non_2xx = [], 0
        for number in range(args.limiter_pairs):
            rps = {}
            for config in (off, on) if number % 2 == 0 else (on, off):
                url = f"http://127.0.0.1:{servers[config]}/api/v1/conversations?{case['query']}"
                result = load.wrk(url, args.pair_seconds, args.connections, fx.api_key)
                rps[config], non_2xx = result["rps"], non_2xx + result["non_2xx"]
            costs.append(1 - rps[on] / rps[off])
        quartiles = statistics.quantiles(costs, n=4)
        results[name] = {
            "median": statistics.median(costs),
            "q1": quartiles[0],
            "q3": quartiles[2],
            "pairs": costs,
            "non_2xx": non_2xx,
        }
    return results
