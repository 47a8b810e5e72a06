"""Finding the Redis primary through Sentinel, for every client (docs/operations.md, "Redis high
availability").

Our RedisPipe asks `discover_primary` before it opens a connection; redis-py's clients (the API's
key-revocation subscription, the CLI) and arq (the worker) use redis-py's own Sentinel support,
built here and in shared/queue/format.py from the same settings.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.connection import parse_url
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from shared.config import Settings

Address = tuple[str, int]
# Error replies that say "this server is not (or no longer) the primary": a client that gets one
# closes its connection, and the next one asks the sentinels again.
NOT_PRIMARY_REPLIES = ("READONLY", "MASTERDOWN")
READ_BYTES = 4096


def _get_master_command(master_name: str) -> bytes:
    parts = (b"SENTINEL", b"get-master-addr-by-name", master_name.encode())
    return b"*3\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in parts)


async def _ask(sentinel: Address, command: bytes) -> Any:
    """One command to one sentinel on a connection of its own, and its reply."""
    reader, writer = await asyncio.open_connection(*sentinel)
    try:
        writer.write(command)
        parser = hiredis.Reader(replyError=ResponseError)
        while (reply := parser.gets()) is False:
            data = await reader.read(READ_BYTES)
            if not data:
                raise RedisConnectionError(f"sentinel {sentinel} closed the connection")
            parser.feed(data)
        return reply
    finally:
        writer.close()


async def discover_primary(sentinels: list[Address], master_name: str, timeout_s: float) -> Address:
    """The primary's address from the first sentinel that knows it; each is given timeout_s.

    A sentinel that is cut off may still name the old primary: a write there answers READONLY
    (or the connection fails), and the client asks again.
    """
    failures: list[str] = []
    command = _get_master_command(master_name)
    for sentinel in sentinels:
        try:
            async with asyncio.timeout(timeout_s):
                reply = await _ask(sentinel, command)
        except (OSError, TimeoutError, RedisConnectionError) as exc:
            failures.append(f"{sentinel[0]}:{sentinel[1]} {exc!r}")
            continue
        if isinstance(reply, list) and len(reply) == 2:
            return reply[0].decode(), int(reply[1])
        failures.append(f"{sentinel[0]}:{sentinel[1]} answered {reply!r}")
    raise RedisConnectionError(f"no sentinel names a primary {master_name!r}: {'; '.join(failures)}")


def url_options(settings: Settings) -> dict[str, Any]:
    """What redis_url gives a client that finds its server through the sentinels: credentials, db."""
    options = parse_url(settings.redis_url) if settings.redis_url else {}
    return {key: options[key] for key in ("username", "password", "db") if key in options}


class SentinelRedis(aioredis.Redis):
    """A client on the sentinels' primary whose aclose() also closes its connections to the
    sentinels (redis-py's own leaves them open)."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Close the client, then its Sentinel's clients."""
        await super().aclose(close_connection_pool)
        for sentinel in cast(SentinelConnectionPool, self.connection_pool).sentinel_manager.sentinels:
            await sentinel.aclose()


def sentinel_client(settings: Settings, options: dict[str, Any]) -> aioredis.Redis:
    """A redis-py client that finds the primary through the sentinels on every new connection, and
    drops its connections when a server answers READONLY (redis-py's SentinelConnectionPool)."""
    sentinel_options = {key: value for key, value in options.items() if key.startswith("socket_")}
    # redis-py's Sentinel.__init__ carries no annotations.
    sentinel = Sentinel(settings.sentinel_addresses, sentinel_kwargs=sentinel_options)  # type: ignore[no-untyped-call]
    client: aioredis.Redis = sentinel.master_for(
        settings.redis_sentinel_master, redis_class=SentinelRedis, **url_options(settings), **options
    )
    return client
