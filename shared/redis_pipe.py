"""Pipelined Redis commands for the two hot paths: the ingest's enqueue and the API's rate limit.

On those paths redis-py's asyncio client cost more per command than Redis's own work: a pool
checkout (which polls the socket), per-command packing, and a reader coroutine plus a timeout
block per reply. Here a caller hands over a command already packed as RESP and gets a future. The
commands of one event-loop tick leave in one write per connection, and hiredis parses the replies
in `data_received`, which resolves the futures in order: no task sits between Redis and the
caller. Everything else in the code base uses redis-py.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any, cast

import hiredis
from redis.asyncio.connection import SSLConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

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


# One command awaiting its reply: the caller's future (None for our own handshake commands), the
# command (kept to resend it once after NOSCRIPT), and whether it was already resent.
_Waiting = tuple["asyncio.Future[Any] | None", bytes, bool]


class _Connection(asyncio.Protocol):
    """One socket to Redis: commands written in order, replies matched to them in order."""

    def __init__(self, pipe: RedisPipe) -> None:
        self._pipe = pipe
        self._loop = asyncio.get_running_loop()
        self._reader = hiredis.Reader(replyError=ResponseError)  # error replies come back as values
        self._transport: asyncio.Transport | None = None
        self._failure: Exception | None = None  # why we closed it, for the callers still waiting
        self._deadlines: deque[tuple[int, float]] = deque()  # (commands sent by then, reply due by)
        self._timer: asyncio.TimerHandle | None = None
        self.waiting: deque[_Waiting] = deque()
        self.sent = 0  # commands ever queued on this connection ...
        self.replied = 0  # ... and replies ever read: a batch is answered once replied reaches it
        self.closed = False
        for command in pipe.handshake:
            self._queue(None, command, resent=True)

    def send(self, batch: list[tuple[bytes, asyncio.Future[Any]]]) -> None:
        """Queue and write a batch; if Redis doesn't answer all of it within the timeout, close."""
        for command, future in batch:
            self._queue(future, command, resent=False)
        if self._transport is not None:  # otherwise connection_made writes everything queued
            self._transport.writelines([command for command, _ in batch])
        self._deadlines.append((self.sent, self._loop.time() + self._pipe.timeout_s))
        if self._timer is None:
            self._timer = self._loop.call_at(self._deadlines[0][1], self._check_deadline)

    def _queue(self, future: asyncio.Future[Any] | None, command: bytes, *, resent: bool) -> None:
        self.waiting.append((future, command, resent))
        self.sent += 1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports don't subclass asyncio's
        if self.closed:  # timed out while connecting: its callers already got their error
            transport.abort()
            return
        self._transport = transport
        transport.writelines([command for _, command, _ in self.waiting])  # handshake, then batches

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as exc:
                self.fail(RedisConnectionError(f"Redis sent something that is not RESP: {exc}"))
                return
            if reply is False:
                return
            if not self.waiting:  # a reply to nothing: the stream is out of step, trust none of it
                self.fail(RedisConnectionError("Redis sent a reply no command was waiting for"))
                return
            future, command, resent = self.waiting.popleft()
            self.replied += 1
            if isinstance(reply, ResponseError):
                if future is None:  # AUTH, SELECT or SCRIPT LOAD failed: nothing here can work
                    self.fail(reply)
                    return
                if not resent and str(reply).startswith("NOSCRIPT") and self._pipe.scripts:
                    self._reload_and_resend(future, command)  # NOSCRIPT ran nothing: resending is safe
                elif not future.done():  # a caller that gave up has cancelled its future
                    future.set_exception(reply)
            elif future is not None and not future.done():
                future.set_result(reply)

    def _reload_and_resend(self, future: asyncio.Future[Any], command: bytes) -> None:
        """After SCRIPT FLUSH: load our scripts again and resend the command, in one write."""
        loads = [pack_command(b"SCRIPT", b"LOAD", script) for script in self._pipe.scripts]
        for load in loads:
            self._queue(None, load, resent=True)
        self._queue(future, command, resent=True)
        assert self._transport is not None
        self._transport.writelines([*loads, command])

    def _check_deadline(self) -> None:
        self._timer = None
        while self._deadlines and self._deadlines[0][0] <= self.replied:
            self._deadlines.popleft()
        if not self._deadlines or self.closed:
            return
        due = self._deadlines[0][1]
        if due <= self._loop.time():
            self.fail(RedisTimeoutError(f"Redis did not answer within {self._pipe.timeout_s} s"))
        else:
            self._timer = self._loop.call_at(due, self._check_deadline)

    def fail(self, error: Exception) -> None:
        """Close the connection; every caller still waiting gets `error`."""
        if self._failure is None:
            self._failure = error
        self._pipe.forget(self)  # at once: no new batch may land here before connection_lost runs
        if self._transport is not None:
            self._transport.abort()  # connection_lost answers the waiting callers
        else:
            self.connection_lost(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = True
        self._pipe.forget(self)
        if self._timer is not None:
            self._timer.cancel()
        error = self._failure or RedisConnectionError(f"Redis connection lost: {exc!r}")
        while self.waiting:
            future = self.waiting.popleft()[0]
            if future is not None and not future.done():
                future.set_exception(error)


class RedisPipe:
    """Up to `connections` dedicated connections to one Redis, opened on first use.

    `call()` returns a future for the reply: its result, or an exception for an error reply
    (ResponseError), a lost or refused connection (redis ConnectionError), or no complete answer
    within `timeout_s` (redis TimeoutError; the connection is then closed and reopened on the next
    call). `scripts` are loaded on every new connection, and an EVALSHA answered NOSCRIPT is
    resent once after loading them again.
    """

    def __init__(
        self, url: str, *, timeout_s: float, connections: int = 1, scripts: tuple[bytes, ...] = ()
    ) -> None:
        options: dict[str, Any] = dict(parse_url(url))
        self.timeout_s = timeout_s
        self.scripts = scripts
        self.handshake = _handshake(options, scripts)
        self._address: dict[str, Any] = {
            key: options[key] for key in ("host", "port", "path") if key in options
        }
        self._address.setdefault("host", "localhost")
        self._address.setdefault("port", 6379)
        self._tls = options.get("connection_class") is SSLConnection
        self._size = connections
        self._connections: list[_Connection] = []
        self._buffer: list[tuple[bytes, asyncio.Future[Any]]] = []
        self._flush_scheduled = False
        self._closed = False
        self._connecting: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        # Looked up once: on Python 3.11 every get_running_loop() is a getpid() syscall.
        self._loop = asyncio.get_running_loop()
        return self._loop

    def call(self, command: bytes) -> asyncio.Future[Any]:
        """Send one RESP-packed command at the end of this tick; the future gets its reply."""
        loop = self._loop or self._bind_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self._closed:
            future.set_exception(RedisConnectionError("the client was closed"))
            return future
        self._buffer.append((command, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self.flush)
        return future

    def flush(self) -> None:
        """Write what call() buffered now rather than at the end of the tick."""
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
                connections.pop(0).send(batch)
                batch, size = [], 0
            batch.append((command, future))
            size += len(command)
        if batch:
            connections[0].send(batch)

    def _open(self) -> _Connection:
        connection = _Connection(self)
        task = asyncio.get_running_loop().create_task(self._connect(connection))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)
        return connection

    async def _connect(self, connection: _Connection) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout_s):
                if "path" in self._address:
                    await loop.create_unix_connection(lambda: connection, self._address["path"])
                else:
                    host, port = self._address["host"], self._address["port"]
                    tls = ssl.create_default_context() if self._tls else None
                    await loop.create_connection(lambda: connection, host, port, ssl=tls)
        except (OSError, TimeoutError) as exc:
            connection.fail(RedisConnectionError(f"cannot connect to Redis: {exc!r}"))

    def forget(self, connection: _Connection) -> None:
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


def _handshake(options: dict[str, Any], scripts: tuple[bytes, ...]) -> list[bytes]:
    """AUTH and SELECT as the URL asks, then SCRIPT LOAD of each script: sent first on a connection."""
    commands = []
    password, username = options.get("password"), options.get("username")
    if password is not None:
        credentials = (username, password) if username else (password,)
        commands.append(pack_command(b"AUTH", *(part.encode() for part in credentials)))
    if options.get("db"):
        commands.append(pack_command(b"SELECT", b"%d" % int(options["db"])))
    commands.extend(pack_command(b"SCRIPT", b"LOAD", script) for script in scripts)
    return commands
