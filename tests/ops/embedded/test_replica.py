"""ops.embedded.replica: a real streaming hot standby of a running embedded primary."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from ops.embedded import ManagedServer, postgres_server, replica_server
from ops.embedded.replica import ReplicaSetupError
from tests.helpers import eventually


@pytest.fixture
def primary(tmp_path: Path) -> Iterator[ManagedServer]:
    server = postgres_server(tmp_path / "primary", durable=False)
    server.start()
    yield server
    server.kill()


async def _follows_and_refuses_writes(primary: ManagedServer, replica: ManagedServer) -> None:
    writer = await asyncpg.connect(primary.url)
    reader = await asyncpg.connect(replica.url)
    try:
        assert await reader.fetchval("SELECT pg_is_in_recovery()") is True
        await writer.execute("CREATE TABLE marks (n int)")
        await writer.execute("INSERT INTO marks VALUES (7)")

        async def replicated() -> bool:
            try:
                return await reader.fetchval("SELECT count(*) FROM marks WHERE n = 7") == 1
            except asyncpg.UndefinedTableError:
                return False

        await eventually(replicated, 30.0, "the primary's row on the replica")
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await reader.execute("INSERT INTO marks VALUES (8)")
        streaming = await writer.fetchval(
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
        )
        assert streaming == 1
    finally:
        await reader.close()
        await writer.close()


def test_a_replica_streams_from_its_primary_and_refuses_writes(
    primary: ManagedServer, tmp_path: Path
) -> None:
    replica = replica_server(primary, tmp_path / "replica", durable=False)
    assert replica.port != primary.port
    replica.start()
    try:
        asyncio.run(_follows_and_refuses_writes(primary, replica))
    finally:
        replica.kill()


def test_a_failed_base_backup_says_why(primary: ManagedServer, tmp_path: Path) -> None:
    primary.kill()  # nothing to copy from
    with pytest.raises(ReplicaSetupError, match=r"pg_basebackup of .* failed .*"):
        replica_server(primary, tmp_path / "replica")
