from __future__ import annotations

import asyncio
import subprocess
import sys

import asyncpg
import pytest

from shared.db.migrate import MigrationError, load_migrations, migrate
from tests.helpers import REPO_ROOT, Servers, create_database

SCHEMA_SQL = """
SELECT table_name, column_name, data_type
FROM information_schema.columns
WHERE table_schema = 'public'
ORDER BY table_name, ordinal_position
"""


async def _fresh_database(servers: Servers) -> str:
    return (await create_database(servers.database_url, "migrate"))[1]


async def _schema_and_history(url: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    conn = await asyncpg.connect(url)
    try:
        schema = [tuple(row) for row in await conn.fetch(SCHEMA_SQL)]
        history = [row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")]
    finally:
        await conn.close()
    return schema, history  # type: ignore[return-value]


async def test_migrate_twice_applies_each_file_once(servers: Servers) -> None:
    url = await _fresh_database(servers)
    conn = await asyncpg.connect(url)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
    finally:
        await conn.close()
    assert first == [m.version for m in load_migrations()]
    assert second == []
    schema, history = await _schema_and_history(url)
    assert history == first
    tables = {table for table, _, _ in schema}
    assert {"accounts", "api_keys", "agents", "conversations", "conversation_details"} <= tables


async def test_three_concurrent_cli_processes_leave_one_schema(servers: Servers) -> None:
    url = await _fresh_database(servers)
    reference = await _fresh_database(servers)
    conn = await asyncpg.connect(reference)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    env = {"RINGREADY_DATABASE_URL": url, "RINGREADY_REDIS_URL": servers.redis_url, "PATH": "/usr/bin:/bin"}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ops.cli.main", "migrate", env=env, cwd=REPO_ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]  # fmt: skip
    results = [await proc.communicate() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], results
    outputs = sorted(out.decode().strip() for out, _ in results)
    assert outputs.count("schema is up to date") == 2
    assert (await _schema_and_history(url)) == (await _schema_and_history(reference))


async def test_edited_migration_is_refused(servers: Servers) -> None:
    url = await _fresh_database(servers)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        await conn.execute("UPDATE schema_migrations SET checksum = 'x'")
        with pytest.raises(MigrationError, match="changed after it ran"):
            await migrate(conn)
    finally:
        await conn.close()
