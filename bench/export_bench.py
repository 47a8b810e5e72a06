"""The export against COPY: 1,000,000 conversations (with transcripts) of one account streamed by
`GET /api/v1/conversations/export` from a real `python -m services.api`, against asyncpg's
`copy_from_query` of the same lines (`COPY (the same SELECT) TO STDOUT`) in the same run, rounds
alternating; and the API process's peak resident memory (VmHWM).

    .venv/bin/python -m bench.export_bench [--rows 1000000] [--rounds 3] [--format ndjson|csv]

Embedded Postgres (no fsync) and Valkey in a temp dir; results in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg
import msgspec

from bench import data
from bench.api_setup import start_servers
from bench.e2e_cpu import peak_rss_mib
from ops.embedded import free_port, port_open
from shared.db.agents import insert_agent
from shared.db.conversation_export import EXPORT_CSV_SQL, EXPORT_NDJSON_SQL, START
from shared.db.migrate import migrate

ACCOUNT = 1
# One account, its conversations a minute apart, each with a four-turn transcript (~420 bytes).
TRANSCRIPT = [
    {"role": "agent", "content": "Thanks for calling Acme Plumbing, how can I help?", "elapsed_s": 0.0},
    {"role": "caller", "content": "Hi, how much is a new water heater, installed?", "elapsed_s": 3.2},
    {
        "role": "agent",
        "content": "Most installs are 1,200 to 1,800 dollars. Shall I book a visit?",
        "elapsed_s": 7.9,
    },
    {"role": "caller", "content": "Yes please, Thursday morning works.", "elapsed_s": 12.4},
]
LOAD_SQL = """
WITH conv AS (
    INSERT INTO conversations (account_id, agent_id, channel, source, provider_call_id, from_number,
        to_number, caller_name, label, summary, started_at, ended_at, duration_seconds, end_reason,
        event_rank, event_at)
    SELECT 1, 1, 'phone', 'phone', 'export-' || g, '+1555' || lpad(g::text, 7, '0'), '+15550000001',
           'Maria Lopez', 'Appointment Booking',
           'Caller asked about pricing for a water heater replacement and booked a visit.',
           t, t + interval '95 seconds', 95, 'caller_hung_up', 1, t
    FROM generate_series(1, $1) AS g,
         LATERAL (SELECT timestamptz '2024-01-01' + make_interval(mins => g) AS t) s
    RETURNING id
)
INSERT INTO conversation_details (conversation_id, transcript, raw_body)
SELECT id, $2::jsonb, '' FROM conv
"""


async def load(database_url: str, rows: int) -> str:
    """Migrate, load the account, and return a read key that the limiter never refuses."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        await conn.execute("INSERT INTO accounts (email, plan) VALUES ('export@example.com', 'agency')")
        await insert_agent(conn, account_id=ACCOUNT, phone_number="+15550000001", business_name="Acme")
        await conn.execute(LOAD_SQL, rows, msgspec.json.encode(TRANSCRIPT).decode())
        await conn.execute("VACUUM ANALYZE")
        return await data.unlimited_read_key(conn, ACCOUNT, "export-bench")
    finally:
        await conn.close()


def start_api(database_url: str, redis_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ, "RINGREADY_DATABASE_URL": database_url, "RINGREADY_REDIS_URL": redis_url,
        "RINGREADY_API_PORT": str(port), "RINGREADY_API_PROCESSES": "1", "RINGREADY_LOG_LEVEL": "warning",
        "RINGREADY_EXPORT_ROWS_PER_MIN": str(data.UNLIMITED_PER_MIN),
    }  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.api"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while not port_open("127.0.0.1", port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the API did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    return process


async def via_api(port: int, key: str, export_format: str) -> tuple[float, int, int]:
    """Seconds, bytes and lines of one whole export read as fast as the client can."""
    url = f"http://127.0.0.1:{port}/api/v1/conversations/export?format={export_format}"
    received = newlines = 0
    started = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=1800)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, headers={"Authorization": f"Bearer {key}"}) as reply,
    ):
        reply.raise_for_status()
        async for chunk in reply.content.iter_chunked(1 << 16):
            received += len(chunk)
            newlines += chunk.count(b"\n")
    return time.perf_counter() - started, received, newlines


async def via_copy(database_url: str, export_format: str, rows: int) -> tuple[float, int]:
    """Seconds and bytes of COPY (the export's own SELECT, every row at once) TO STDOUT."""
    sql = (EXPORT_CSV_SQL if export_format == "csv" else EXPORT_NDJSON_SQL)[(False, False, False, False)]
    received = 0

    async def sink(chunk: bytes) -> None:
        nonlocal received
        received += len(chunk)

    conn = await asyncpg.connect(database_url)
    try:
        started = time.perf_counter()
        args = (ACCOUNT, *START, rows + 1)
        literal = sql
        for n, value in reversed(list(enumerate(args, start=1))):  # COPY takes no parameters
            literal = literal.replace(f"${n}", f"'{value}'" if not isinstance(value, int) else str(value))
        await conn.copy_from_query(literal, output=sink, format="csv" if export_format == "csv" else "text")
        return time.perf_counter() - started, received
    finally:
        await conn.close()


async def rounds(
    args: argparse.Namespace, database_url: str, port: int, key: str, api_pid: int
) -> dict[str, object]:
    api_s: list[float] = []
    copy_s: list[float] = []
    lines = 0
    for _ in range(args.rounds):
        seconds, _, lines = await via_api(port, key, args.format)
        api_s.append(seconds)
        copy_s.append((await via_copy(database_url, args.format, args.rows))[0])
    api, copy = statistics.median(api_s), statistics.median(copy_s)
    return {
        "rows": args.rows, "format": args.format, "lines": lines,
        "api_rows_per_s": round(args.rows / api), "copy_rows_per_s": round(args.rows / copy),
        "share_of_copy": round(copy / api, 3),
        "api_s": [round(s, 2) for s in api_s], "copy_s": [round(s, 2) for s in copy_s],
        "api_peak_rss_mib": peak_rss_mib({"api": api_pid})["api"],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--format", choices=("ndjson", "csv"), default="ndjson")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ringready-export-bench-"))
    postgres, valkey = start_servers(root)
    api = None
    try:
        key = asyncio.run(load(postgres.url, args.rows))
        port = free_port()
        api = start_api(postgres.url, valkey.url, port, root / "api.log")
        print(msgspec.json.encode(asyncio.run(rounds(args, postgres.url, port, key, api.pid))).decode())
    finally:
        if api is not None:
            api.terminate()
            api.wait(30)
        valkey.stop()
        postgres.stop()


if __name__ == "__main__":
    main()
