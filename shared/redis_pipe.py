"""Pipelined Redis commands for the two hot paths: the ingest's enqueue and the API's rate limit.

On those paths redis-py's asyncio client cost more per command than Redis's own work: a pool
checkout (which polls the socket), per-command packing, and a reader coroutine plus a timeout
block per reply. Here a caller hands over a command already packed as RESP and gets a future. The
commands of one event-loop tick leave in one write per connection (this is the one place where
Redis commands are batched by tick; a caller that groups its own work, like the API's limiter,
asks `defer()` to be called just before that write). shared/redis_connection.py parses the
replies. Everything else in the code base uses redis-py.

With sentinels configured the pipe asks them for the primary before each connection it opens
(shared/redis_sentinel.py); a connection lost, or a READONLY/MASTERDOWN reply, closes it, so the
next one follows a failover. A `Barrier` (the ingest's WAIT for replicas) is written after each
batch on the batch's connection, and the batch's callers are answered only after its reply.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

from redis.asyncio.connection import SSLConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError

from shared.config import Settings
from shared.redis_connection import Barrier, Batch, PipeConnection, answer_behind
from shared.redis_sentinel import Address, discover_primary

# Redis reads a client's socket 16 KiB at a time per event-loop turn, and under appendfsync always
# it fsyncs once per turn. A tick's commands are spread over the connections in chunks of this size
# so that one turn, i.e. one fsync, takes all of them.
CHUNK_BYTES = 16 * 1024


def pack_command(*args: bytes) -> bytes:
    """One Redis command in RESP (an array of bulk strings), ready to write to the socket."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts += (b"$%d\r\n" % len(arg), arg, b"\r\n")
    return b"".join(parts)


class RedisPipe:
    """Up to `connections` dedicated connections to one Redis, opened on first use.

    `call()` returns a future for the reply: its result, or an exception for an error reply
    (ResponseError), a lost or refused connection (redis ConnectionError), or no complete answer
    within `timeout_s` (redis TimeoutError; the connection is then closed and reopened on the next
    call). `scripts` are loaded on every new connection, and an EVALSHA answered NOSCRIPT is
    resent once after loading them again. With `sentinels`, the URL gives only credentials and
    database: the host is the primary the sentinels name for `master_name`.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float,
        connections: int = 1,
        scripts: tuple[bytes, ...] = (),
        sentinels: list[Address] | None = None,
        master_name: str = "",
        barrier: Barrier | None = None,
    ) -> None:
        options: dict[str, Any] = dict(parse_url(url))
        self.timeout_s = timeout_s
        self.script_loads = [pack_command(b"SCRIPT", b"LOAD", script) for script in scripts]
        self.handshake = [*_auth_and_select(options), *self.script_loads]  # sent first on every connection
        self._address: dict[str, Any] = {
            key: options[key] for key in ("host", "port", "path") if key in options
        }
        self._address.setdefault("host", "localhost")
        self._address.setdefault("port", 6379)
        self._tls = options.get("connection_class") is SSLConnection
        self._sentinels = sentinels or []
        self._master_name = master_name
        self._barrier = barrier
        self._size = connections
        self._connections: list[PipeConnection] = []
        self._buffer: list[tuple[bytes, asyncio.Future[Any]]] = []
        self._producers: list[Callable[[], None]] = []
        self._flush_scheduled = False
        self._closed = False
        self._connecting: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        # Looked up once: on Python 3.11 every get_running_loop() is a getpid() syscall.
        self._loop = asyncio.get_running_loop()
        return self._loop

    def future(self) -> asyncio.Future[Any]:
        """A new future on the pipe's event loop (also for callers that answer their own waiters)."""
        return (self._loop or self._bind_loop()).create_future()

    def call(self, command: bytes) -> asyncio.Future[Any]:
        """Send one RESP-packed command at the end of this tick; the future gets its reply."""
        future = self.future()
        if self._closed:
            future.set_exception(RedisConnectionError("the client was closed"))
            return future
        self._buffer.append((command, future))
        self._schedule()
        return future

    def defer(self, producer: Callable[[], None]) -> None:
        """Run `producer` at the end of this tick, just before the tick's write; it may call()."""
        self._producers.append(producer)
        self._schedule()

    def _schedule(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            (self._loop or self._bind_loop()).call_soon(self.flush)

    def flush(self) -> None:
        """Write what call() buffered now rather than at the end of the tick."""
        while self._producers:  # their call()s join this write (the flush is still scheduled)
            producers, self._producers = self._producers, []
            for produce in producers:
                produce()
        self._flush_scheduled = False
        if not self._buffer:
            return
        buffer, self._buffer = self._buffer, []
        while len(self._connections) < self._size:
            self._connections.append(self._open())
        connections = sorted(self._connections, key=lambda connection: len(connection.waiting))
        batch: list[tuple[bytes, asyncio.Future[Any]]] = []
        size = 0
        for command, future in buffer:
            # A chunk closes before it would pass CHUNK_BYTES: one read by Redis takes all of it.
            if batch and size + len(command) > CHUNK_BYTES and len(connections) > 1:
                self._send(connections.pop(0), batch)
                batch, size = [], 0
            batch.append((command, future))
            size += len(command)
        if batch:
            self._send(connections[0], batch)

    def _send(self, connection: PipeConnection, batch: Batch) -> None:
        if self._barrier is None:
            connection.send(batch)
            return
        # The connection answers futures of our own; the callers' wait for the barrier's reply.
        barrier = self._barrier
        replies = [(command, self.future()) for command, _ in batch]
        gate = self.future()
        gate.add_done_callback(lambda _: answer_behind(barrier, gate, batch, replies))
        connection.send([*replies, (barrier.command, gate)])

    def _open(self) -> PipeConnection:
        connection = PipeConnection(self)
        task = asyncio.get_running_loop().create_task(self._connect(connection))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)
        return connection

    async def _connect(self, connection: PipeConnection) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout_s):
                if "path" in self._address:
                    await loop.create_unix_connection(lambda: connection, self._address["path"])
                else:
                    host, port = await self._primary()
                    tls = ssl.create_default_context() if self._tls else None
                    await loop.create_connection(lambda: connection, host, port, ssl=tls)
        except (OSError, TimeoutError, RedisConnectionError) as exc:
            connection.fail(RedisConnectionError(f"cannot connect to Redis: {exc!r}"))

    async def _primary(self) -> Address:
        if not self._sentinels:
            return self._address["host"], self._address["port"]
        # One sentinel that hangs must leave the others time within the connection's own timeout.
        each_s = self.timeout_s / (len(self._sentinels) + 1)
        return await discover_primary(self._sentinels, self._master_name, each_s)

    def forget(self, connection: PipeConnection) -> None:
        """A closed connection leaves the pool; the next flush opens a new one."""
        if connection in self._connections:
            self._connections.remove(connection)

    async def aclose(self) -> None:
        """Close every connection; callers still waiting get a ConnectionError."""
        self._closed = True
        closed = RedisConnectionError("the client was closed")
        for _, future in self._buffer:  # called this tick, not sent yet
            if not future.done():
                future.set_exception(closed)
        self._buffer.clear()
        for task in list(self._connecting):
            task.cancel()
        for connection in list(self._connections):
            connection.fail(closed)
        self._connections.clear()


def pipe_for(
    settings: Settings,
    *,
    timeout_s: float,
    connections: int = 1,
    scripts: tuple[bytes, ...] = (),
    barrier: Barrier | None = None,
) -> RedisPipe:
    """A pipe to the configured Redis: redis_url's server, or the sentinels' primary."""
    return RedisPipe(
        settings.redis_url or "redis://",
        timeout_s=timeout_s,
        connections=connections,
        scripts=scripts,
        sentinels=settings.sentinel_addresses,
        master_name=settings.redis_sentinel_master,
        barrier=barrier,
    )


def _auth_and_select(options: dict[str, Any]) -> list[bytes]:
    """AUTH and SELECT as the URL asks."""
    commands = []
    password, username = options.get("password"), options.get("username")
    if password is not None:
        credentials = (username, password) if username else (password,)
        commands.append(pack_command(b"AUTH", *(part.encode() for part in credentials)))
    if options.get("db"):
        commands.append(pack_command(b"SELECT", b"%d" % int(options["db"])))
    return commands
