"""StatementPool: a fixed set of connections, each checked out for exactly one statement.

asyncpg's Pool pays per query for a connection proxy, a Future, an asyncio.Queue, a shielded Task
for the release, an inactivity timer and (on Python 3.11) several getpid() syscalls through
get_running_loop(). On this project's 2-core host that was about a quarter of the API's CPU per
list request (docs/BENCHMARKS.md). The API only ever runs single statements outside transactions,
so here a checkout is a list pop and a check-in a list append.

A connection goes back into service only when its statement finished or Postgres refused it with
an ordinary error (the connection is then idle and untouched). After anything else (cancellation,
a timeout, a lost connection) its state is unknown: it is terminated and a replacement connects in
the background. Callers never see a dead connection twice: losing Postgres is `Unavailable` (503).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import structlog

from shared.errors import Unavailable

log = structlog.get_logger(__name__)

T = TypeVar("T")
Connect = Callable[[], Awaitable[asyncpg.Connection]]
# Waiting for a busy connection is normal under load; waiting this long means Postgres is stuck.
CHECKOUT_TIMEOUT_S = 5.0
RECONNECT_DELAYS_S = (0.05, 0.1, 0.25, 0.5, 1.0)  # then 1.0 s until it works or the pool closes
UNAVAILABLE = "Database unavailable; retry shortly."
TERMINATE_BACKEND_SQL = "SELECT pg_terminate_backend($1)"


class StatementPool:
    """`size` connections opened up front; fetch/fetchrow/fetchval/execute run one statement each."""

    def __init__(self, connect: Connect, size: int, checkout_timeout_s: float = CHECKOUT_TIMEOUT_S) -> None:
        self._connect = connect
        self._size = size
        self._checkout_timeout_s = checkout_timeout_s
        self._idle: list[asyncpg.Connection] = []
        self._waiters: deque[asyncio.Future[asyncpg.Connection]] = deque()
        self._live = 0  # while open: connected, idle or running a statement (not reconnecting)
        self._reconnects: set[asyncio.Task[None]] = set()
        self._closed = False

    async def open(self) -> None:
        """Connect every connection; raises (and leaves nothing open) if Postgres can't be reached."""
        results = await asyncio.gather(*(self._connect() for _ in range(self._size)), return_exceptions=True)
        connections = [r for r in results if isinstance(r, asyncpg.Connection)]
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            for conn in connections:
                conn.terminate()
            raise failure
        self._idle.extend(connections)
        self._live = len(connections)

    async def close(self) -> None:
        """Stop reconnecting, fail the waiters, close the idle connections (busy ones close on return)."""
        self._closed = True
        for task in self._reconnects:
            task.cancel()
        await asyncio.gather(*self._reconnects, return_exceptions=True)
        self._fail_waiters()
        idle, self._idle = self._idle, []
        await asyncio.gather(*(conn.close(timeout=2) for conn in idle), return_exceptions=True)

    def usage(self) -> tuple[int, int, int]:
        """(size, open, in use): what the API's metrics report of its connections."""
        return self._size, self._live, self._live - len(self._idle)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return await self._run(asyncpg.Connection.fetch, query, args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        return await self._run(asyncpg.Connection.fetchrow, query, args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._run(asyncpg.Connection.fetchval, query, args)

    async def execute(self, query: str, *args: Any) -> str:
        return await self._run(asyncpg.Connection.execute, query, args)

    async def _run(self, method: Callable[..., Awaitable[T]], query: str, args: tuple[Any, ...]) -> T:
        conn = self._idle.pop() if self._idle else await self._wait_for_connection()
        try:
            result = await method(conn, query, *args)
        except asyncpg.PostgresError as exc:
            if _still_usable(conn, exc):
                self._check_in(conn)  # Postgres refused the statement; the connection is as it was
                raise
            self._replace(conn)
            raise Unavailable(UNAVAILABLE) from exc
        except (OSError, asyncpg.InterfaceError, asyncpg.InternalClientError) as exc:
            # The connection broke, or the statement outlived command_timeout (TimeoutError is an OSError).
            self._replace(conn, stop_backend=not conn.is_closed())
            raise Unavailable(UNAVAILABLE) from exc
        except BaseException:
            self._replace(conn, stop_backend=True)  # cancelled mid-statement: its state is unknown
            raise
        self._check_in(conn)
        return result

    async def _wait_for_connection(self) -> asyncpg.Connection:
        if self._closed or self._live == 0:
            raise Unavailable(UNAVAILABLE)  # nothing is connected: no one would ever hand one over
        waiter: asyncio.Future[asyncpg.Connection] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self._checkout_timeout_s):
                return await waiter
        except BaseException as exc:  # timed out or cancelled while waiting
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._check_in(waiter.result())  # handed one just before: it must not be lost
            if isinstance(exc, TimeoutError):
                raise Unavailable(UNAVAILABLE) from None
            raise

    def _fail_waiters(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(Unavailable(UNAVAILABLE))

    def _check_in(self, conn: asyncpg.Connection) -> None:
        if self._closed:
            conn.terminate()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _replace(self, conn: asyncpg.Connection, *, stop_backend: bool = False) -> None:
        """Drop conn and connect another in the background.

        Dropping the socket doesn't stop a statement already running on the server (asyncpg's own
        cancel request dies with the connection), so with stop_backend the replacement's first act
        is to terminate the old backend.
        """
        self._live -= 1
        old_pid = conn.get_server_pid() if stop_backend else None
        conn.terminate()
        if self._closed:
            return
        if self._live == 0:
            self._fail_waiters()  # nothing left that could hand them one before the reconnect
        task = asyncio.get_running_loop().create_task(self._reconnect(old_pid))
        self._reconnects.add(task)
        task.add_done_callback(self._reconnects.discard)

    async def _reconnect(self, old_pid: int | None) -> None:
        for attempt in itertools.count():
            try:
                conn = await self._connect()
                if old_pid is not None:
                    await conn.fetchval(TERMINATE_BACKEND_SQL, old_pid)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                delay = RECONNECT_DELAYS_S[min(attempt, len(RECONNECT_DELAYS_S) - 1)]
                log.warning("pg_reconnect_failed", error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                continue
            self._live += 1
            self._check_in(conn)
            return


def _still_usable(conn: asyncpg.Connection, exc: asyncpg.PostgresError) -> bool:
    """After an error reply: is the connection sound (not closed, FATAL, class 08 or mid-transaction)?"""
    severity = getattr(exc, "severity_en", None) or getattr(exc, "severity", None)
    broken = severity in ("FATAL", "PANIC") or (exc.sqlstate or "").startswith("08")
    return not (broken or conn.is_closed() or conn.is_in_transaction())


# What the query functions in shared/db accept: a connection, asyncpg's pool, or a StatementPool.
Queryable = asyncpg.Connection | asyncpg.Pool | StatementPool
