"""q= search and the sync at 1M conversations: first and last page, the API against pgbench running
the API's own statement in the same run (issue #15).

bench/api_setup.py's data (1,000,000 conversations, 500,000 in the big account, every summary
mentions pricing), plus a transcript for each of the big account's conversations: those whose id
is a multiple of 100 ask for a refund (1 in 50 of the account's, its ids being even). So `q=pricing`
matches every row (summary side) and `q=refund` 2 % of them (transcript side). The sync walks
the big account from the start (first page) and from 51 rows before its end (last page). One API
(2 processes, limiter off, as api_bench's first-page target), wrk with 32 connections, `--seconds`
per measurement, `--rounds` rounds; the medians are printed as
JSON. Usage:

    .venv/bin/python -m bench.api_search_sync [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg

from bench import api_load as load
from bench.api_bench import LIMIT, explain
from bench.api_setup import BIG_ACCOUNT, Fixture, prepare_sync, start_servers
from ops.embedded import free_port
from services.api.sync import encode_cursor
from shared.db.conversations import LIST_CONVERSATIONS_SQL, SYNC_CONVERSATIONS_SQL

TRANSCRIPTS_SQL = """
INSERT INTO conversation_details (conversation_id, transcript, raw_body)
SELECT id, jsonb_build_array(
    jsonb_build_object('role', 'agent', 'content', 'Thanks for calling, how can I help?',
                       'elapsed_s', 0, 'raw_role', 'agent'),
    jsonb_build_object('role', 'caller', 'content',
                       CASE WHEN id % 100 = 0 THEN 'I would like a refund for the last visit'
                            ELSE 'My water heater is leaking again' END,
                       'elapsed_s', 3, 'raw_role', 'user')), ''
FROM conversations WHERE account_id = $1
ON CONFLICT DO NOTHING
"""
SEARCHES = {"q common (every row)": "pricing", "q rare (2 %)": "refund"}
SEARCH_SHAPE = (False, False, False, False, True)
SEARCH_LAST_SHAPE = (False, False, False, True, True)
SYNC_LAST_SQL = """
SELECT change_xid::text, id FROM conversations WHERE account_id = $1 ORDER BY change_xid, id
OFFSET (SELECT count(*) FROM conversations WHERE account_id = $1) - $2 LIMIT 1
"""


async def _search_cases(conn: asyncpg.Connection, name: str, q: str) -> dict[str, dict[str, Any]]:
    """First page, and the page before whose cursor only LIMIT matches are left."""
    everything = await conn.fetch(LIST_CONVERSATIONS_SQL[SEARCH_SHAPE], BIG_ACCOUNT, q, 10**7)
    before = everything[-(LIMIT + 1)]["id"]
    return {
        f"{name}|first": {
            "url": f"/api/v1/conversations?{urlencode({'limit': LIMIT, 'q': q})}",
            "sql": LIST_CONVERSATIONS_SQL[SEARCH_SHAPE],
            "args": [BIG_ACCOUNT, q, LIMIT + 1],
        },
        f"{name}|last": {
            "url": f"/api/v1/conversations?{urlencode({'limit': LIMIT, 'before_id': before, 'q': q})}",
            "sql": LIST_CONVERSATIONS_SQL[SEARCH_LAST_SHAPE],
            "args": [BIG_ACCOUNT, before, q, LIMIT + 1],
        },
    }


async def _sync_cases(conn: asyncpg.Connection) -> dict[str, dict[str, Any]]:
    last = await conn.fetchrow(SYNC_LAST_SQL, BIG_ACCOUNT, LIMIT + 1)
    if last is None:
        raise RuntimeError("the big account has no rows")
    cases = {}
    for page, (after_xid, after_id) in (("first", (0, 0)), ("last", (int(last[0]), last[1]))):
        cursor = encode_cursor((after_xid, after_id))
        cases[f"sync|{page}"] = {
            "url": f"/api/v1/conversations/sync?{urlencode({'limit': LIMIT, 'cursor': cursor})}",
            "sql": SYNC_CONVERSATIONS_SQL[(False, False)],
            "args": [BIG_ACCOUNT, str(after_xid), after_id, LIMIT + 1],
        }
    return cases


async def plan_cases(fx: Fixture) -> dict[str, dict[str, Any]]:
    """Add the transcripts (once), then every case with its EXPLAIN (ANALYZE, BUFFERS)."""
    conn = await asyncpg.connect(fx.database_url)
    try:
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM conversation_details)"):
            await conn.execute(TRANSCRIPTS_SQL, BIG_ACCOUNT)
            await conn.execute("VACUUM ANALYZE conversation_details")
        cases: dict[str, dict[str, Any]] = {}
        for name, q in SEARCHES.items():
            cases |= await _search_cases(conn, name, q)
        cases |= await _sync_cases(conn)
        for case in cases.values():
            case["explain"] = await explain(conn, case["sql"], case["args"])
    finally:
        await conn.close()
    return cases


def one_round(fx: Fixture, cases: dict[str, dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Per case, pgbench then the API, back to back."""
    workdir = Path(tempfile.mkdtemp(prefix="ringready-pgbench-"))
    env = {"RINGREADY_DATABASE_URL": fx.database_url, "RINGREADY_REDIS_URL": fx.redis_url}
    port = free_port()
    server = load.start_api(env, port, 2, "off")
    results: dict[str, Any] = {}
    try:
        for name, case in cases.items():
            url = f"http://127.0.0.1:{port}{case['url']}"
            load.wrk(url, 1, args.connections, fx.api_key)  # warm: prepared statements, caches
            tps = load.pgbench(
                fx.database_url, case["sql"], case["args"], args.seconds, args.connections, workdir
            )
            api = load.wrk(url, args.seconds, args.connections, fx.api_key)
            results[name] = {"pgbench_tps": tps, **api, "api/pgbench": api["rps"] / tps}
    finally:
        load.stop(server)
    return results


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per case and metric, then first/last throughput per endpoint."""
    median = {
        name: {metric: statistics.median(r[name][metric] for r in rounds) for metric in rounds[0][name]}
        for name in rounds[0]
    }
    endpoints = {name.split("|")[0] for name in median}
    flat = {e: median[f"{e}|first"]["rps"] / median[f"{e}|last"]["rps"] for e in endpoints}
    return {"median": median, "first/last API throughput": flat}


def main() -> None:
    """Load, plan, measure, print JSON (plans included)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    load.require_wrk()
    root = Path(tempfile.mkdtemp(prefix="ringready-apibench-"))
    postgres, valkey = start_servers(root)
    try:
        fx = prepare_sync(postgres.url, valkey.url)
        cases = asyncio.run(plan_cases(fx))
        rounds = [one_round(fx, cases, args) for _ in range(args.rounds)]
    finally:
        valkey.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)
    plans = {name: case["explain"] for name, case in cases.items()}
    print(json.dumps({"settings": vars(args), **summary(rounds), "rounds": rounds, "plans": plans}, indent=2))


if __name__ == "__main__":
    main()
