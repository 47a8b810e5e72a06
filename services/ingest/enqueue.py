"""The ingest side of the queue: a few dedicated connections, group commit, a bounded wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import structlog
from aiohttp import web
from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import NoScriptError, RedisError, ResponseError

from shared.config import Settings
from shared.errors import Unavailable
from shared.models import QueuedEvent
from shared.queue import ENQUEUE_LUA, enqueue_command, event_job, pack_command
from shared.web import settings_key

log = structlog.get_logger(__name__)

# Senders time out after 10-30 s; answering 503 quickly lets them retry instead of hanging.
ENQUEUE_TIMEOUT_S = 3.0
RETRY_AFTER_S = "5"
# Bounds one pipeline's size (and so one reply's wait); under load batches stay far below it.
MAX_BATCH = 256
# Batches in flight at once. With one, requests that arrive during a batch's round trip (mostly
# Redis's fsync) wait for it to end before theirs is even sent; with a few, theirs is already in
# Redis's socket when the fsync ends, and Redis writes and fsyncs everything it has read together.
CONNECTIONS = 4


class GroupCommit:
    """Enqueues that arrive while a batch is in flight travel together in the next one.

    One pipelined write, one AOF fsync and one reply read serve many webhooks, and every caller
    still returns only once its own job is in Redis. Idle, a lone request is sent at once, so this
    adds no latency. Batches go over dedicated connections rather than redis-py's pool and
    Pipeline: their per-command packing, per-reply timeouts and pool checkout (which polls the
    socket once per checkout) cost more than the Redis work itself (bench/ingest_bench.py).
    """

    def __init__(self, connections: list[AbstractConnection], queue_name: str) -> None:
        # Each connection carries one batch at a time; connections connect on first use (the app
        # starts while Redis is down).
        self._connections = connections
        self._idle = list(connections)
        self._queue_name = queue_name
        self._waiting: list[tuple[bytes, asyncio.Future[bool]]] = []
        self._sender_starting = False
        self._senders: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    async def enqueue(self, job_command: bytes, timeout_s: float = ENQUEUE_TIMEOUT_S) -> bool:
        """Queue one enqueue_command (False: already queued or done); raises what Redis raised,
        or TimeoutError after timeout_s (the job may still land: its id makes a retry harmless)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._waiting.append((job_command, future))
        # One sender at a time is started; it takes everything that arrived until it runs.
        if self._idle and not self._sender_starting:
            self._sender_starting = True
            sender = asyncio.create_task(self._send_all(self._idle.pop()))
            self._senders.add(sender)
            sender.add_done_callback(self._senders.discard)
        # A bare timer on the future: asyncio.timeout's context manager costs more per request.
        timer = loop.call_later(timeout_s, _expire, future)
        try:
            return await future
        finally:
            timer.cancel()

    def command_for(self, event: QueuedEvent) -> tuple[str, bytes]:
        """The event's job id and its EVALSHA, packed outside the sender so batches go out sooner."""
        job = event_job(event)
        return job.job_id, enqueue_command(job, self._queue_name)

    async def _send_all(self, connection: AbstractConnection) -> None:
        self._sender_starting = False
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                await self._send(connection, batch)
        finally:
            self._idle.append(connection)

    async def _send(
        self, connection: AbstractConnection, batch: list[tuple[bytes, asyncio.Future[bool]]]
    ) -> None:
        try:
            async with asyncio.timeout(ENQUEUE_TIMEOUT_S):  # no extra task, unlike wait_for
                results = await _enqueue_batch(connection, [command for command, _ in batch])
        except Exception as exc:
            for _, future in batch:
                if not future.done():  # a caller that gave up has cancelled its future
                    future.set_exception(exc)
            return
        for (_, future), queued in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(queued)

    async def aclose(self) -> None:
        """Close the connections (a batch still in flight fails and its callers get 503)."""
        for connection in self._connections:
            await connection.disconnect()


def _expire(future: asyncio.Future[bool]) -> None:
    if not future.done():
        future.set_exception(TimeoutError("enqueue timed out"))


async def _enqueue_batch(connection: AbstractConnection, commands: list[bytes]) -> list[bool]:
    """Every EVALSHA in one write; a NOSCRIPT (Redis restarted or flushed) loads the script and
    sends just those again, which is safe because a NOSCRIPT call did nothing."""
    results = await _pipeline(connection, commands)
    missing = [n for n, result in enumerate(results) if isinstance(result, NoScriptError)]
    if missing:
        retried = await _pipeline(
            connection, [pack_command(b"SCRIPT", b"LOAD", ENQUEUE_LUA), *(commands[n] for n in missing)]
        )
        for n, result in zip(missing, retried[1:], strict=True):
            results[n] = result
    for result in results:
        if isinstance(result, Exception):
            raise result
    return [bool(result) for result in results]


async def _pipeline(connection: AbstractConnection, commands: list[bytes]) -> list[object]:
    """Write all commands, read one reply each; Redis errors come back in place of results."""
    try:
        await connection.connect()  # type: ignore[no-untyped-call]  # returns at once when connected
        await connection.send_packed_command(commands, check_health=False)
        return [await _reply(connection) for _ in commands]
    except BaseException:
        # A pipeline cut short (timeout, cancel, lost connection) leaves replies unread.
        await connection.disconnect(nowait=True)
        raise


async def _reply(connection: AbstractConnection) -> object:
    try:
        return await connection.read_response()
    except ResponseError as exc:  # the connection stays in step: the next reply is the next call's
        return exc


def group_commit(settings: Settings) -> GroupCommit:
    """The process's queue writer; no I/O until the first enqueue."""
    # No per-read socket timeout: ENQUEUE_TIMEOUT_S bounds the whole batch instead.
    # The pool only parses the URL (host, db, password, TLS); its one connection is ours alone.
    # No CLIENT SETINFO handshake (lib_name/lib_version): connecting takes no round trip.
    pool = ConnectionPool.from_url(
        settings.redis_url, socket_connect_timeout=1.0, socket_timeout=None, lib_name=None, lib_version=None
    )
    connections = [pool.connection_class(**pool.connection_kwargs) for _ in range(CONNECTIONS)]
    return GroupCommit(connections, settings.queue_name)


queue_key = web.AppKey("queue", GroupCommit)


async def queue_ctx(app: web.Application) -> AsyncIterator[None]:
    """The process's queue writer."""
    writer = group_commit(app[settings_key])
    app[queue_key] = writer
    yield
    await writer.aclose()


async def enqueue(queue: GroupCommit, event: QueuedEvent) -> str:
    """Put the event on the queue or raise Unavailable (503) so the sender retries."""
    job_id, command = queue.command_for(event)
    try:
        await queue.enqueue(command)
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("enqueue_failed", error=type(exc).__name__)
        raise Unavailable(
            "the queue is unavailable; retry later", headers={"Retry-After": RETRY_AFTER_S}
        ) from None
    return job_id
