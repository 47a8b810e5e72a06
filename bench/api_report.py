"""Markdown tables for docs/BENCHMARKS.md from one api_bench result (medians over rounds)."""

from __future__ import annotations

import argparse
from typing import Any

LAST_OVER_FIRST_TARGET = 1.3  # last page's latency at most this times the first's
API_OVER_PGBENCH_TARGET = 0.30  # first-page throughput at least this share of pgbench's
LIMITER_COST_TARGET = 0.10  # the limiter costs at most this share of throughput


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _names(cases: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(name.split("|")[0] for name in cases))


def api_table(median: dict[str, Any], cases: dict[str, Any], config: str) -> list[str]:
    """One API configuration: req/s, p50/p99, pgbench TPS, ratios, per filter and page."""
    api, pg = median["api"][config], median["pgbench"]
    paired = median["ratios"][f"{config} / pgbench"]
    lines = [
        f"**API {config}**",
        "",
        "| filter | page | API req/s | p50 ms | p99 ms | pgbench TPS | API/pgbench | API/pgbench, "
        "median of rounds | last/first p50 | first/last req/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in _names(cases):
        first, last = api.get(f"{name}|first"), api.get(f"{name}|last")
        for page, r in (("first", first), ("last", last)):
            if r is None:
                continue
            tps = pg[f"{name}|{page}"]
            ratio_p50 = ratio_rps = ""
            if page == "last" and first is not None and first["p50_ms"]:
                ratio_p50 = _f(r["p50_ms"] / first["p50_ms"], 2)
                ratio_rps = _f(first["rps"] / r["rps"], 2)
            lines.append(
                f"| {name} | {page} | {_f(r['rps'], 0)} | {_f(r['p50_ms'], 2)} | {_f(r['p99_ms'], 2)} "
                f"| {_f(tps, 0)} | {_f(r['rps'] / tps, 2)} | {_f(paired[f'{name}|{page}'], 2)} "
                f"| {ratio_p50} | {ratio_rps} |"
            )
    return [*lines, ""]


def limiter_table(median: dict[str, Any], cases: dict[str, Any], processes: int) -> list[str]:
    """First-page throughput with and without the limiter, same process count, same run."""
    off, on = median["api"][f"{processes} proc, limiter off"], median["api"][f"{processes} proc, limiter on"]
    paired = median["ratios"]["limiter cost"]
    lines = [
        f"**Rate limiter on vs off ({processes} processes, first page)**",
        "",
        "| filter | off req/s | on req/s | cost (of the medians) | cost, median of rounds |",
        "|---|---|---|---|---|",
    ]
    for name in _names(cases):
        a, b = off[f"{name}|first"]["rps"], on[f"{name}|first"]["rps"]
        cost = paired[f"{name}|first"] * 100
        lines.append(f"| {name} | {_f(a, 0)} | {_f(b, 0)} | {_f((a - b) / a * 100, 1)} % | {_f(cost, 1)} % |")
    return [*lines, ""]


def pairs_table(pairs: dict[str, dict[str, Any]], args: argparse.Namespace) -> list[str]:
    """The limiter's cost from short alternating pairs (bench/api_pairs.py): the verdict's number."""
    if not pairs:
        return []
    lines = [
        f"**Rate limiter cost from {args.limiter_pairs} alternating pairs of {args.pair_seconds:g} s "
        f"({args.limiter_processes} processes, first page)**",
        "",
        "| filter | cost, median of pairs | quartiles |",
        "|---|---|---|",
    ]
    for case, pair in pairs.items():
        lines.append(
            f"| {case.split('|')[0]} | {_f(pair['median'] * 100, 1)} % "
            f"| {_f(pair['q1'] * 100, 1)} % to {_f(pair['q3'] * 100, 1)} % |"
        )
    return [*lines, ""]


def plans(cases: dict[str, Any]) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement, first and last page."""
    lines = ["### EXPLAIN (ANALYZE, BUFFERS), measured in the same run", ""]
    for name, case in cases.items():
        filters, page = name.split("|")
        lines += [f"**{filters}, {page} page** (`?{case['query']}`)", "", "```", case["explain"], "```", ""]
    return lines


def markdown(
    median: dict[str, Any], pairs: dict[str, dict[str, Any]], cases: dict[str, Any], args: argparse.Namespace
) -> str:
    """Tables and plans for the API section."""
    bare = median["bare"]
    lines = [
        f"Bare aiohttp handler (HTTP ceiling): {_f(bare['rps'], 0)} req/s, p50 {_f(bare['p50_ms'], 2)} ms, "
        f"p99 {_f(bare['p99_ms'], 2)} ms.",
        "",
    ]
    for config in median["api"]:
        lines += api_table(median, cases, config)
    lines += limiter_table(median, cases, args.limiter_processes)
    lines += pairs_table(pairs, args)
    return "\n".join(lines + plans(cases))
