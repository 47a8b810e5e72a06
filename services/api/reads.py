"""Where the API's reads go: the read replica (RINGREADY_DATABASE_READ_URL) while it answers.

Only the list and detail reads of conversations and agents come here. Everything that must see
its own or another's latest write stays on the primary's pool (`statements_key`): the key lookup
(a key just created must work and a revoked one stop at once, whatever the replica's lag), PATCH
(its UPDATE ... RETURNING is its read-back) and the keys' last_used_at writes.

A replica that is down, or not yet reachable at start-up, never takes the API down: reads go to
the primary until the replica's connections are back (docs/operations.md, "Read replicas").
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import asyncpg
import structlog
from aiohttp import web

from services.api.typedefs import read_replica_key
from shared.db.pool import connect
from shared.db.statement_pool import RECONNECT_DELAYS_S, StatementPool
from shared.errors import Unavailable
from shared.web import settings_key, statements_key

log = structlog.get_logger(__name__)
T = TypeVar("T")
# A standby cancels a query whose rows replay must remove (SQLSTATE class 40, "conflict with
# recovery"): the same read on the primary has no such conflict.
_REPLICA_ONLY_FAILURES = (Unavailable, asyncpg.TransactionRollbackError)


async def read(app: web.Application, query: Callable[[StatementPool], Awaitable[T]]) -> T:
    """Run a read-only query on the replica while it has a live connection, else on the primary;
    a read that the replica fails is run once more on the primary (reads are safe to repeat)."""
    replica = app.get(read_replica_key)
    if replica is None or not is_connected(replica):
        return await query(app[statements_key])
    try:
        return await query(replica)
    except _REPLICA_ONLY_FAILURES as exc:
        log.warning("read_replica_failed_read_on_primary", error=repr(exc))
        return await query(app[statements_key])


def is_connected(pool: StatementPool) -> bool:
    """At least one of the pool's connections is open (the others may be reconnecting)."""
    _, live, _ = pool.usage()
    return live > 0


async def _open_until_connected(pool: StatementPool) -> None:
    """Retry opening the replica's pool in the background until it works or the app stops."""
    for attempt in itertools.count():  # until it connects or read_replica_ctx cancels it
        delay = RECONNECT_DELAYS_S[min(attempt, len(RECONNECT_DELAYS_S) - 1)]
        await asyncio.sleep(delay)
        try:
            await pool.open()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("read_replica_connect_failed", error=repr(exc), retry_in_s=delay)
            continue
        log.info("read_replica_connected")
        return


async def read_replica_ctx(app: web.Application) -> AsyncIterator[None]:
    """The replica's StatementPool when RINGREADY_DATABASE_READ_URL is set (nothing otherwise).

    Opened now if the replica answers, else in the background: the API starts either way.
    """
    settings = app[settings_key]
    url = settings.database_read_url
    if not url:
        yield
        return
    pool = StatementPool(lambda: connect(settings, url), settings.pg_pool_max)
    app[read_replica_key] = pool
    opener: asyncio.Task[None] | None = None
    try:
        await pool.open()
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("read_replica_unavailable_at_start", error=repr(exc))
        opener = asyncio.get_running_loop().create_task(_open_until_connected(pool))
    yield
    if opener is not None:
        opener.cancel()
        await asyncio.gather(opener, return_exceptions=True)
    await pool.close()
