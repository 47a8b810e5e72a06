"""A primary and its streaming replica for the API's read-routing tests: our own embedded pair,
migrated, with helpers to pause and resume the replica's replay and to wait until it caught up."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from ops.embedded import ManagedServer, postgres_server, replica_server
from shared.db.migrate import migrate
from tests.helpers import create_database, eventually

# The primaries here commit asynchronously (durable=False): a commit reaches the WAL on disk, and so
# the replica, a moment later. A WAL record written and flushed now (flush=true) comes after every
# earlier commit; its end position is what the replica must have replayed.
FLUSHED_MARK_SQL = "SELECT pg_logical_emit_message(false, 'ringready_test', 'caught_up', true)"
REPLAYED_UP_TO_SQL = "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn"
PAUSE_REPLAY_SQL = "SELECT pg_wal_replay_pause()"
RESUME_REPLAY_SQL = "SELECT pg_wal_replay_resume()"
REPLAY_STATE_SQL = "SELECT pg_get_wal_replay_pause_state()"
CATCH_UP_S = 30.0


@dataclass(frozen=True)
class Replicated:
    """The two servers and the URLs of the test database on each."""

    primary: ManagedServer
    replica: ManagedServer
    primary_url: str
    replica_url: str


async def _create_and_migrate(admin_url: str) -> str:
    _, url = await create_database(admin_url, "ringready_replica_test")
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return url


def replicated_pair() -> Iterator[Replicated]:
    """Start a primary, migrate a database on it, copy it into a streaming replica; stop both after."""
    root = Path(tempfile.mkdtemp(prefix="ringready-replica-test-"))
    primary = postgres_server(root / "primary", durable=False)
    primary.start()
    replica: ManagedServer | None = None
    try:
        primary_url = asyncio.run(_create_and_migrate(primary.url))
        replica = replica_server(primary, root / "replica", durable=False)
        replica.start()
        replica_url = replica.url.rsplit("/", 1)[0] + "/" + primary_url.rsplit("/", 1)[1]
        yield Replicated(primary, replica, primary_url, replica_url)
    finally:
        if replica is not None:
            replica.kill()  # a fast stop: the tests' pools may still hold connections
        primary.kill()
        shutil.rmtree(root, ignore_errors=True)


@asynccontextmanager
async def connections(pair: Replicated) -> AsyncIterator[tuple[asyncpg.Connection, asyncpg.Connection]]:
    """One connection to the primary's test database and one to the replica's."""
    primary = await asyncpg.connect(pair.primary_url)
    try:
        replica = await asyncpg.connect(pair.replica_url)
        try:
            yield primary, replica
        finally:
            await replica.close()
    finally:
        await primary.close()


async def caught_up(primary: asyncpg.Connection, replica: asyncpg.Connection) -> None:
    """Wait until the replica has replayed everything the primary has committed so far."""
    lsn = await primary.fetchval(FLUSHED_MARK_SQL)
    await eventually(
        lambda: replica.fetchval(REPLAYED_UP_TO_SQL, lsn), CATCH_UP_S, f"replica replays up to {lsn}"
    )


async def pause_replay(replica: asyncpg.Connection) -> None:
    """Stop applying WAL on the replica (it keeps receiving it) until resume_replay."""
    await replica.execute(PAUSE_REPLAY_SQL)

    async def paused() -> bool:
        return await replica.fetchval(REPLAY_STATE_SQL) == "paused"

    await eventually(paused, CATCH_UP_S, "replica replay paused")


async def resume_replay(replica: asyncpg.Connection) -> None:
    """Apply WAL again."""
    await replica.execute(RESUME_REPLAY_SQL)
