"""Instructions per authenticated request (callgrind) of one API process: this tree or another.

Counts what a single `bench.api_server` process executes for `GET /api/v1/whoami` (auth, the
limiter, a trivial handler): callgrind counts instructions, not time, so the figure repeats on a
loaded host where a throughput A/B cannot resolve a few per cent. Counters are zeroed after a
warm-up and dumped after the measured requests; the result is the dump's total over requests.

    .venv/bin/python -m bench.access_instructions [--tree /tmp/baseline] [--requests 2000] [--limiter on|off]
        [--path /api/v1/conversations]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp
import asyncpg

from bench import data
from bench.api_setup import start_servers
from bench.ingest_bench import wait_port
from ops.embedded import free_port
from shared.db.accounts import insert_account
from shared.db.migrate import migrate

CONCURRENCY = 8  # a few requests in flight, so batching behaves as under load


async def make_key(database_url: str) -> str:
    """Migrate and create an account with an unlimited read key."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        account_id = await insert_account(conn, "bench@example.com", "growth")
        return await data.unlimited_read_key(conn, account_id, "instructions")
    finally:
        await conn.close()


async def send(port: int, key: str, count: int, path: str = "/api/v1/whoami") -> None:
    """`count` requests (whoami unless told), CONCURRENCY at a time; every one must be a 200."""
    headers = {"Authorization": f"Bearer {key}"}
    url = f"http://127.0.0.1:{port}{path}"
    async with aiohttp.ClientSession() as session:

        async def one_worker(share: int) -> None:
            for _ in range(share):
                async with session.get(url, headers=headers) as reply:
                    if reply.status != 200:
                        raise RuntimeError(f"{path} answered {reply.status}: {await reply.text()}")
                    await reply.read()

        await asyncio.gather(*(one_worker(count // CONCURRENCY) for _ in range(CONCURRENCY)))


def total_instructions(out_file: Path) -> int:
    """The `totals:` (or `summary:`) line of a callgrind dump."""
    text = out_file.read_text()
    found = re.search(r"^(?:totals|summary): (\d+)", text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no totals in {out_file}")
    return int(found.group(1))


def measure(
    tree: Path, env: dict[str, str], port: int, key: str, requests: int, limiter: str, path: str
) -> float:
    """Instructions per request of one server process from `tree` under callgrind."""
    out = Path(tempfile.mkdtemp(prefix="ringready-callgrind-")) / "callgrind.out"
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable]
    argv += ["-m", "bench.api_server", "--limiter", limiter]
    server_env = env | {"PYTHONPATH": str(tree), "RINGREADY_API_PORT": str(port)}
    server = subprocess.Popen(
        argv, cwd=tree, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_port(port, 300)
        asyncio.run(send(port, key, 400, path))  # warm-up: caches, the script, the key
        subprocess.run(["callgrind_control", "-z", str(server.pid)], check=True, capture_output=True)
        asyncio.run(send(port, key, requests, path))
        subprocess.run(["callgrind_control", "-d", str(server.pid)], check=True, capture_output=True)
    finally:
        server.terminate()
        server.wait(120)
    dumps = sorted(out.parent.glob("callgrind.out*"), key=lambda path: path.stat().st_mtime)
    return total_instructions(dumps[-2] if len(dumps) > 1 else dumps[-1]) / requests


def main() -> None:
    """Start Postgres and Valkey, make a key, measure the tree, print instructions per request."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", type=Path, default=Path.cwd(), help="the source tree to measure")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--limiter", choices=("on", "off"), default="on")
    parser.add_argument(
        "--path", default="/api/v1/whoami", help="the GET to repeat, e.g. /api/v1/conversations"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ringready-instructions-"))
    postgres, valkey = start_servers(root)
    try:
        database_url, redis_url = postgres.url, valkey.url
        key = asyncio.run(make_key(database_url))
        env = {k: v for k, v in os.environ.items() if not k.startswith("RINGREADY_")}
        env |= {"RINGREADY_DATABASE_URL": database_url, "RINGREADY_REDIS_URL": redis_url}
        env |= {
            "RINGREADY_API_PROCESSES": "1",
            "RINGREADY_LOG_FORMAT": "json",
            "RINGREADY_LOG_LEVEL": "warning",
        }
        per_request = measure(
            args.tree.resolve(), env, free_port(), key, args.requests, args.limiter, args.path
        )
        print(f"{args.tree}: {per_request:,.0f} instructions per {args.path} (limiter {args.limiter})")
    finally:
        valkey.stop()
        postgres.stop()


if __name__ == "__main__":
    main()
