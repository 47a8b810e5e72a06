"""One socket of a RedisPipe: RESP commands written in order, replies matched to them in order.

hiredis parses the replies in `data_received`, which resolves the callers' futures directly: no
task sits between Redis and the caller. A batch not fully answered within the pipe's timeout
closes the connection, and every caller still waiting gets the error; so does a reply saying the
server is no longer the primary (after a failover), so that the pipe's next connection finds the
new one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, cast

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.redis_sentinel import NOT_PRIMARY_REPLIES

# One command awaiting its reply: the caller's future (None for our own handshake commands), the
# command (kept to resend it once after NOSCRIPT), and whether it was already resent.
_Waiting = tuple["asyncio.Future[Any] | None", bytes, bool]

Batch = list[tuple[bytes, "asyncio.Future[Any]"]]


class Barrier(NamedTuple):
    """A command sent after every batch on the batch's connection (the ingest's WAIT): the batch's
    callers get their replies only once it has answered, and `check` raises (a RedisError, for all
    of them) when its reply says the batch is not safe yet."""

    command: bytes
    check: Callable[[Any], None]


def answer_behind(barrier: Barrier, gate: asyncio.Future[Any], batch: Batch, replies: Batch) -> None:
    """The barrier answered: give each caller its own reply, or the barrier's failure."""
    failure = gate.exception()
    if failure is None:
        try:
            barrier.check(gate.result())
        except RedisError as exc:
            failure = exc
    for (_, caller), (_, reply) in zip(batch, replies, strict=True):
        own_error = reply.exception() if reply.done() else None  # also marks it retrieved
        if caller.done():  # the caller gave up (cancelled)
            continue
        if own_error is not None:
            caller.set_exception(own_error)
        elif failure is not None or not reply.done():  # not done: resent after NOSCRIPT, uncovered
            caller.set_exception(failure or RedisConnectionError("the barrier did not cover this command"))
        else:
            caller.set_result(reply.result())


class ConnectionOwner(Protocol):
    """What a connection needs from its RedisPipe (a protocol, so this module does not import it)."""

    timeout_s: float
    handshake: list[bytes]  # sent first on every connection
    script_loads: list[bytes]  # SCRIPT LOADs, re-sent after a NOSCRIPT

    def forget(self, connection: PipeConnection) -> None:
        """Stop handing batches to this connection."""


class PipeConnection(asyncio.Protocol):
    """One socket to Redis: commands written in order, replies matched to them in order."""

    def __init__(self, pipe: ConnectionOwner) -> None:
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
        self._write([command for command, _ in batch])
        self._deadlines.append((self.sent, self._loop.time() + self._pipe.timeout_s))
        if self._timer is None:
            self._timer = self._loop.call_at(self._deadlines[0][1], self._check_deadline)

    def _queue(self, future: asyncio.Future[Any] | None, command: bytes, *, resent: bool) -> None:
        self.waiting.append((future, command, resent))
        self.sent += 1

    def _write(self, commands: list[bytes]) -> None:
        """Write now; before the socket is connected, connection_made writes everything queued."""
        if self._transport is not None:
            self._transport.writelines(commands)

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
            if not self._answer(reply):
                return

    def _answer(self, reply: Any) -> bool:
        """Give the oldest waiting command its reply; False once the connection had to be failed."""
        future, command, resent = self.waiting.popleft()
        self.replied += 1
        if isinstance(reply, ResponseError):
            if future is None:  # AUTH, SELECT or SCRIPT LOAD failed: nothing here can work
                self.fail(reply)
                return False
            if not resent and str(reply).startswith("NOSCRIPT") and self._pipe.script_loads:
                self._reload_and_resend(future, command)  # NOSCRIPT ran nothing: resending is safe
            elif not future.done():  # a caller that gave up has cancelled its future
                future.set_exception(reply)
            if str(reply).startswith(NOT_PRIMARY_REPLIES):
                self.fail(RedisConnectionError(f"Redis is not the primary: {reply}"))
                return False
        elif future is not None and not future.done():
            future.set_result(reply)
        return True

    def _reload_and_resend(self, future: asyncio.Future[Any], command: bytes) -> None:
        """After SCRIPT FLUSH: load our scripts again and resend the command, in one write."""
        loads = self._pipe.script_loads
        for load in loads:
            self._queue(None, load, resent=True)
        self._queue(future, command, resent=True)
        self._write([*loads, command])

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
