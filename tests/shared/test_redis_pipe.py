"""The pipelined Redis client of the hot paths, against the real server: order, errors, failures."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from shared.config import Settings
from shared.redis_pipe import RedisPipe, pack_command

SCRIPT = b"return redis.call('INCR', KEYS[1])"
SCRIPT_SHA = hashlib.sha1(SCRIPT, usedforsecurity=False).hexdigest().encode()


@pytest.fixture
async def pipe(settings: Settings) -> AsyncIterator[RedisPipe]:
    made = RedisPipe(settings.redis_url, timeout_s=2.0, connections=4, scripts=(SCRIPT,))
    yield made
    await made.aclose()


def incr(key: bytes) -> bytes:
    return pack_command(b"EVALSHA", SCRIPT_SHA, b"1", key)


async def test_replies_come_back_to_their_own_callers(pipe: RedisPipe) -> None:
    # 1,000 ECHOs are ~28 KB: two chunks on two connections, whose order Redis does not promise.
    words = [b"caller-%d" % n for n in range(1000)]
    assert await asyncio.gather(*(pipe.call(pack_command(b"ECHO", word)) for word in words)) == words


async def test_one_connection_runs_its_commands_in_the_order_they_were_called(
    settings: Settings,
) -> None:
    pipe = RedisPipe(settings.redis_url, timeout_s=2.0, connections=1, scripts=(SCRIPT,))
    try:
        replies = await asyncio.gather(*(pipe.call(incr(b"pipe:order")) for _ in range(300)))
    finally:
        await pipe.aclose()
    assert replies == list(range(1, 301))  # the script was loaded by the handshake: no NOSCRIPT


async def test_an_error_reply_fails_only_its_own_call(pipe: RedisPipe) -> None:
    good, bad, after = (
        pipe.call(incr(b"pipe:err")),
        pipe.call(pack_command(b"NOSUCHCMD")),
        pipe.call(incr(b"pipe:err")),
    )
    assert await good == 1
    with pytest.raises(redis.exceptions.ResponseError, match="unknown command"):
        await bad
    assert await after == 2


@pytest.mark.parametrize(
    ("value_bytes", "commands"),
    [
        (8000, 8),  # two fit in a 16 KiB chunk: 2+2+2+2
        (5000, 12),  # three fit, four don't: 3+3+3+3, never 4+4+4 (one read of Redis takes a chunk)
    ],
)
async def test_a_ticks_large_commands_are_spread_over_the_connections_in_chunks_of_16_kib(
    pipe: RedisPipe, redis_client: aioredis.Redis, value_bytes: int, commands: int
) -> None:
    value = b"x" * value_bytes
    await asyncio.gather(
        *(pipe.call(pack_command(b"SET", b"pipe:big:%d" % n, value)) for n in range(commands))
    )
    clients = await redis_client.client_list()
    assert sum(client["cmd"] == "set" for client in clients) == 4


async def test_script_flush_is_survived_by_loading_again(
    pipe: RedisPipe, redis_client: aioredis.Redis
) -> None:
    assert await pipe.call(incr(b"pipe:flush")) == 1
    await redis_client.script_flush()
    assert await asyncio.gather(*(pipe.call(incr(b"pipe:flush")) for _ in range(3))) == [2, 3, 4]


async def test_a_killed_connection_fails_its_callers_and_the_next_call_reconnects(
    pipe: RedisPipe, redis_client: aioredis.Redis
) -> None:
    await pipe.call(incr(b"pipe:kill"))
    await redis_client.execute_command("CLIENT", "PAUSE", "300", "WRITE")  # keeps the next INCR waiting
    waiting = pipe.call(incr(b"pipe:kill"))
    await asyncio.sleep(0)  # one loop turn: the pipe writes the INCR at the end of this tick
    await redis_client.execute_command("CLIENT", "KILL", "SKIPME", "yes", "TYPE", "normal")
    with pytest.raises(redis.exceptions.ConnectionError):
        await waiting
    assert await pipe.call(incr(b"pipe:kill")) in (2, 3)  # reconnected; the killed INCR may have run


async def test_no_answer_within_the_timeout_is_a_timeout_then_it_recovers(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    pipe = RedisPipe(settings.redis_url, timeout_s=0.1)
    try:
        assert await pipe.call(pack_command(b"PING")) == b"PONG"
        await redis_client.execute_command("CLIENT", "PAUSE", "500", "ALL")
        with pytest.raises(redis.exceptions.TimeoutError):
            await pipe.call(pack_command(b"PING"))
        async with asyncio.timeout(5):  # the pause ends; each try may time out until then
            while True:
                with contextlib.suppress(redis.exceptions.TimeoutError):
                    assert await pipe.call(pack_command(b"PING")) == b"PONG"
                    break
    finally:
        await pipe.aclose()


async def test_unreachable_redis_is_a_connection_error(settings: Settings) -> None:
    pipe = RedisPipe("redis://127.0.0.1:1/0", timeout_s=1.0)
    with pytest.raises(redis.exceptions.ConnectionError):
        await pipe.call(pack_command(b"PING"))
    await pipe.aclose()


async def test_username_password_and_database_come_from_the_url(
    settings: Settings, redis_client: aioredis.Redis
) -> None:
    await redis_client.execute_command("ACL", "SETUSER", "pipe-user", "on", ">s3cret", "~*", "+@all")
    parts = urlsplit(settings.redis_url)
    url = urlunsplit(parts._replace(netloc=f"pipe-user:s3cret@{parts.hostname}:{parts.port}", path="/5"))
    wrong = urlunsplit(parts._replace(netloc=f"pipe-user:wrong@{parts.hostname}:{parts.port}"))
    pipe, refused = RedisPipe(url, timeout_s=1.0), RedisPipe(wrong, timeout_s=1.0)
    try:
        await pipe.call(pack_command(b"SET", b"pipe:db", b"5"))
        assert await pipe.call(pack_command(b"ACL", b"WHOAMI")) == b"pipe-user"
        with pytest.raises(redis.exceptions.ResponseError, match="WRONGPASS"):
            await refused.call(pack_command(b"PING"))
    finally:
        await pipe.aclose()
        await refused.aclose()
        await redis_client.execute_command("ACL", "DELUSER", "pipe-user")
    in_db5 = aioredis.Redis.from_url(urlunsplit(parts._replace(path="/5")))
    try:
        assert await in_db5.get("pipe:db") == b"5"
        assert await redis_client.get("pipe:db") is None  # not in the test's own database
        await in_db5.delete("pipe:db")
    finally:
        await in_db5.aclose()


class BrokenRedis:
    """A loopback server answering the first chunk it reads with `first`, everything else +PONG."""

    def __init__(self, first: bytes) -> None:
        self.first = first
        self.connections = 0
        self.hung_up = asyncio.Event()  # a client closed its connection
        self.writers: list[asyncio.StreamWriter] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        self.connections += 1
        answer = self.first if self.connections == 1 else b"+PONG\r\n"
        while await reader.read(65536):
            writer.write(answer)
            answer = b"+PONG\r\n"
        self.hung_up.set()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"redis://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/0"

    async def stop(self) -> None:
        self.server.close()
        for writer in self.writers:
            writer.close()
            await writer.wait_closed()
        await self.server.wait_closed()


async def test_a_reply_that_is_not_resp_fails_the_call() -> None:
    broken = BrokenRedis(b"%%% not resp\r\n")
    pipe = RedisPipe(await broken.start(), timeout_s=1.0)
    try:
        with pytest.raises(redis.exceptions.ConnectionError, match="not RESP"):
            await pipe.call(pack_command(b"PING"))
        assert await pipe.call(pack_command(b"PING")) == b"PONG"  # on a new connection
        assert broken.connections == 2
    finally:
        await pipe.aclose()
        await broken.stop()


async def test_a_reply_to_nothing_drops_the_connection() -> None:
    broken = BrokenRedis(b"+PONG\r\n+EXTRA\r\n")  # one reply too many: the stream is out of step
    pipe = RedisPipe(await broken.start(), timeout_s=1.0)
    try:
        assert await pipe.call(pack_command(b"PING")) == b"PONG"
        async with asyncio.timeout(5):
            await broken.hung_up.wait()  # the extra reply arrived and the pipe dropped the connection
        assert await pipe.call(pack_command(b"PING")) == b"PONG"
        assert broken.connections == 2  # the second PING did not trust the first connection
    finally:
        await pipe.aclose()
        await broken.stop()


async def test_calls_after_close_fail_at_once_and_open_nothing(settings: Settings) -> None:
    pipe = RedisPipe(settings.redis_url, timeout_s=1.0)
    assert await pipe.call(pack_command(b"PING")) == b"PONG"
    unsent = pipe.call(pack_command(b"PING"))  # called in the tick that closes the pipe
    await pipe.aclose()
    for call in (unsent, pipe.call(pack_command(b"PING"))):
        with pytest.raises(redis.exceptions.ConnectionError, match="closed"):
            await call
    assert not pipe._connections  # nothing reopened behind the closed pipe
