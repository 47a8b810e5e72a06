"""GET /api/v1/conversations under load: first vs last page per filter, beside pgbench and a bare handler.

One run starts embedded Postgres + Valkey, loads 1,000,000 conversations (account 1 holds
500,000), then for every filter combination measures the API (wrk), pgbench running the very
statement the API runs, and EXPLAIN (ANALYZE, BUFFERS); also the limiter on vs off. Usage:

    .venv/bin/python -m bench.api_bench [--seconds 5] [--rounds 3] [--connections 32] [--markdown FILE]
        [--filters none,channel,...]  # a subset of the combinations while iterating
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg

from bench import api_load as load
from bench.api_pairs import limiter_pairs
from bench.api_report import markdown
from bench.api_setup import BIG_ACCOUNT, Fixture, prepare_sync, start_servers
from ops.embedded import free_port
from shared.db.conversations import LIST_CONVERSATIONS_SQL

LIMIT = 50
# The issues' targets, checked by verdict() on the medians of per-round ratios.
FIRST_PAGE_TARGET = 0.30  # issue 4: API first page >= this share of pgbench's TPS on the same statement
LAST_PAGE_TARGET = 1.30  # issue 4: last page within this factor of the first (throughput)
LIMITER_TARGET = 0.10  # issue 5: the limiter costs at most this share of list throughput
LAST_CURSOR_SQL = (
    "SELECT id FROM conversations c WHERE {where} ORDER BY c.started_at, c.id OFFSET {offset} LIMIT 1"
)


def combinations(fx: Fixture) -> dict[str, dict[str, Any]]:
    """The filter combinations of the issue, as API query values."""
    since = fx.since.isoformat().replace("+00:00", "Z")
    return {
        "none": {},
        "channel": {"channel": "web_chat"},
        "agent_id": {"agent_id": fx.agent_id},
        "since": {"since": since},
        "all three": {"channel": "web_chat", "agent_id": fx.agent_id, "since": since},
    }


def statement(filters: dict[str, Any], fx: Fixture, before_id: int | None) -> tuple[str, list[object]]:
    """The SQL the API runs for these filters, and its arguments (shared/db/conversations.py order)."""
    shape = ("channel" in filters, "agent_id" in filters, "since" in filters, before_id is not None, False)
    args: list[object] = [BIG_ACCOUNT]
    args += [filters["agent_id"]] if "agent_id" in filters else []
    args += [filters["channel"]] if "channel" in filters else []
    args += [fx.since] if "since" in filters else []
    args += [before_id] if before_id is not None else []
    return LIST_CONVERSATIONS_SQL[shape], [*args, LIMIT + 1]


async def last_cursor(conn: asyncpg.Connection, filters: dict[str, Any], fx: Fixture) -> int:
    """A before_id whose page is the walk's last: the (LIMIT+1)-th oldest row under the filters."""
    where = [f"c.account_id = {BIG_ACCOUNT}"]
    if "channel" in filters:
        where.append(f"c.channel = '{filters['channel']}'")
    if "agent_id" in filters:
        where.append(f"c.agent_id = {int(filters['agent_id'])}")
    if "since" in filters:
        where.append(f"c.started_at >= '{fx.since.isoformat()}'")
    sql = LAST_CURSOR_SQL.format(where=" AND ".join(where), offset=LIMIT)
    cursor: int = await conn.fetchval(sql)
    return cursor


async def explain(conn: asyncpg.Connection, sql: str, args: list[object]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) after two warm-up executions."""
    for _ in range(2):
        await conn.fetch(sql, *args)
    rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
    return "\n".join(row[0] for row in rows)


async def plan_cases(fx: Fixture, only: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Per combination (all, or only those named) and page: the query string, the SQL + args, its plan."""
    conn = await asyncpg.connect(fx.database_url)
    cases: dict[str, dict[str, Any]] = {}
    try:
        for name, filters in combinations(fx).items():
            if only is not None and name not in only:
                continue
            cursor = await last_cursor(conn, filters, fx)
            for page, before in (("first", None), ("last", cursor)):
                sql, args = statement(filters, fx, before)
                query = {"limit": LIMIT, **filters, **({"before_id": before} if before else {})}
                cases[f"{name}|{page}"] = {
                    "query": urlencode(query),
                    "sql": sql,
                    "args": args,
                    "explain": await explain(conn, sql, args),
                }
    finally:
        await conn.close()
    return cases


# The API configurations of one round: (processes, limiter). All of them run side by side (idle
# servers cost nothing) so that each case is measured on every configuration back to back.
CONFIGS = ((1, "off"), (2, "off"))  # the limited configuration comes next: on and off run back to back


def config_name(processes: int, limiter: str) -> str:
    return f"{processes} proc, limiter {limiter}"


def start_apis(fx: Fixture, configs: list[tuple[int, str]], connections: int) -> dict[str, tuple[int, Any]]:
    """Every configuration's server, warmed up (pools, key cache, prepared statements)."""
    env = {"RINGREADY_DATABASE_URL": fx.database_url, "RINGREADY_REDIS_URL": fx.redis_url}
    servers: dict[str, tuple[int, Any]] = {}
    try:
        for processes, limiter in configs:
            port = free_port()
            servers[config_name(processes, limiter)] = (port, load.start_api(env, port, processes, limiter))
            load.wrk(
                f"http://127.0.0.1:{port}/api/v1/conversations?limit={LIMIT}", 1, connections, fx.api_key
            )
    except BaseException:
        for _, server in servers.values():  # none left running if one fails to start
            load.stop(server)
        raise
    return servers


def one_round(
    fx: Fixture, cases: dict[str, dict[str, Any]], args: argparse.Namespace, number: int
) -> dict[str, Any]:
    """Every measurement once. Per case, pgbench and every API configuration run back to back,
    so that each same-case ratio compares numbers taken seconds apart, under the same conditions;
    every other round runs the configurations in reverse order, so that neither side of a ratio
    is always the one measured later."""
    workdir = Path(tempfile.mkdtemp(prefix="ringready-pgbench-"))
    bare_port = free_port()
    bare = load.start_bare(bare_port)
    try:
        bare_result = load.wrk(
            f"http://127.0.0.1:{bare_port}/api/v1/conversations", args.seconds, args.connections, None
        )
    finally:
        load.stop(bare)
    limited = config_name(args.limiter_processes, "on")
    configs = [*CONFIGS, (args.limiter_processes, "on")]
    servers = start_apis(fx, configs, args.connections)
    pg: dict[str, Any] = {}
    api: dict[str, dict[str, Any]] = {name: {} for name in servers}
    try:
        for name, case in cases.items():
            pg[name] = load.pgbench(
                fx.database_url, case["sql"], case["args"], args.seconds, args.connections, workdir
            )
            order = list(servers.items())
            for config, (port, _) in reversed(order) if number % 2 else order:
                if config == limited and not name.endswith("|first"):
                    continue  # the limiter's cost is measured on first pages
                url = f"http://127.0.0.1:{port}/api/v1/conversations?{case['query']}"
                api[config][name] = load.wrk(url, args.seconds, args.connections, fx.api_key)
    finally:
        for _, server in servers.values():
            load.stop(server)
    return {"bare": bare_result, "pgbench": pg, "api": api, "ratios": round_ratios(pg, api, limited)}


def measure_limiter_pairs(
    fx: Fixture, cases: dict[str, dict[str, Any]], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """The limiter's cost per filter from short alternating pairs (bench/api_pairs.py)."""
    configs = [(args.limiter_processes, "off"), (args.limiter_processes, "on")]
    servers = start_apis(fx, configs, args.connections)
    try:
        return limiter_pairs(fx, cases, {name: port for name, (port, _) in servers.items()}, args)
    finally:
        for _, server in servers.values():
            load.stop(server)


def round_ratios(pg: dict[str, Any], api: dict[str, dict[str, Any]], limited: str) -> dict[str, Any]:
    """This round's same-case ratios: API/pgbench per configuration, and the limiter's cost."""
    unlimited = limited.replace("limiter on", "limiter off")
    ratios: dict[str, Any] = {
        f"{config} / pgbench": {name: r["rps"] / pg[name] for name, r in results.items()}
        for config, results in api.items()
    }
    ratios["limiter cost"] = {
        name: 1 - r["rps"] / api[unlimited][name]["rps"] for name, r in api[limited].items()
    }
    return ratios


def median_of(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over rounds of every number, keyed like one round."""

    def walk(values: list[Any]) -> Any:
        if isinstance(values[0], dict):
            return {k: walk([v[k] for v in values]) for k in values[0]}
        numbers = [v for v in values if v is not None]
        return statistics.median(numbers) if numbers else None

    return walk(rounds)  # type: ignore[no-any-return]


def main() -> None:
    """Start servers, load, plan, measure `rounds` times, print JSON (and write markdown)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--limiter-processes", type=int, default=2)
    parser.add_argument("--limiter-pairs", type=int, default=20, help="0: judge the limiter by rounds")
    parser.add_argument("--pair-seconds", type=float, default=1.0)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument(
        "--filters", type=lambda v: v.split(","), help="comma-separated subset, e.g. none,since"
    )
    parser.add_argument("--bare", type=int)
    args = parser.parse_args()
    if args.bare:
        return load.run_bare(args.bare)
    load.require_wrk()
    root = Path(tempfile.mkdtemp(prefix="ringready-apibench-"))
    postgres, valkey = start_servers(root)
    try:
        fx = prepare_sync(postgres.url, valkey.url)
        cases = asyncio.run(plan_cases(fx, args.filters))
        rounds = [one_round(fx, cases, args, number) for number in range(args.rounds)]
        pairs = measure_limiter_pairs(fx, cases, args) if args.limiter_pairs else {}
    finally:
        valkey.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)  # ~1 GB of throw-away cluster
    result: dict[str, Any] = {"settings": vars(args) | {"markdown": str(args.markdown)}}
    result |= {"median": median_of(rounds), "limiter pairs": pairs, "rounds": rounds}
    print(json.dumps(result, indent=2, default=str))
    if args.markdown:
        args.markdown.write_text(markdown(result["median"], pairs, cases, args))
    sys.exit(verdict(result["median"], pairs, rounds))


def verdict(median: dict[str, Any], pairs: dict[str, dict[str, Any]], rounds: list[dict[str, Any]]) -> int:
    """Each target per filter on stderr (2 processes, limiter off for issue 4; the limiter by its
    pairs if they ran, else by its rounds); exit status 1 if one is missed or any response was not
    a 2xx."""
    config = config_name(2, "off")
    paired, api = median["ratios"][f"{config} / pgbench"], median["api"][config]
    missed = []
    for name in sorted({case.split("|")[0] for case in paired}):
        checks = [("first page / pgbench", paired.get(f"{name}|first"), FIRST_PAGE_TARGET, ">=")]
        if f"{name}|last" in api:
            first_over_last = api[f"{name}|first"]["rps"] / api[f"{name}|last"]["rps"]
            checks.append(("first/last req/s", first_over_last, LAST_PAGE_TARGET, "<="))
        limiter_cost = median["ratios"]["limiter cost"].get(f"{name}|first")
        if f"{name}|first" in pairs:
            limiter_cost = pairs[f"{name}|first"]["median"]
        checks.append(("limiter cost", limiter_cost, LIMITER_TARGET, "<="))
        for what, value, target, sense in checks:
            if value is None:
                continue
            met = value >= target if sense == ">=" else value <= target
            word = "meets" if met else "MISSES"
            print(f"{name}: {what} {value:.3f} {word} {sense} {target}", file=sys.stderr)
            if not met:
                missed.append(f"{name} {what}")
    failed = [
        (name, config)
        for r in rounds
        for config, results in r["api"].items()
        for name, result in results.items()
        if result["non_2xx"]
    ]
    failed += [(name, "limiter pairs") for name, pair in pairs.items() if pair["non_2xx"]]
    if failed:
        print(f"FAILED: non-2xx answers in {sorted(set(failed))}", file=sys.stderr)
    return 1 if missed or failed else 0


if __name__ == "__main__":
    main()
