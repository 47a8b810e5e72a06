"""Every Redis client finds the primary through real sentinels and follows a failover: our
RedisPipe (discovery before each connection; READONLY closes it), redis-py and arq."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import msgspec
import pytest
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.sentinel import SentinelConnectionPool

from ops.embedded import free_port
from ops.embedded.sentinel import SentinelGroup
from shared.config import Settings
from shared.queue import create_arq_pool
from shared.redis_connection import Barrier
from shared.redis_pipe import RedisPipe, pack_command, pipe_for
from shared.redis_sentinel import discover_primary
from shared.web import redis_client
from tests.helpers import eventually
from tests.shared.sentinels import primary_port

PORT = pack_command(b"CONFIG", b"GET", b"port")
ROLE = pack_command(b"ROLE")


@pytest.fixture
async def pipe(ha_settings: Settings) -> AsyncIterator[RedisPipe]:
    made = pipe_for(ha_settings, timeout_s=2.0, connections=2)
    yield made
    await made.aclose()


async def _port_of(pipe: RedisPipe) -> int:
    _, port = await pipe.call(PORT)
    return int(port)


async def test_discovery_skips_a_dead_sentinel_and_names_the_primary(sentinel_group: SentinelGroup) -> None:
    dead = ("127.0.0.1", free_port())
    live = [(s.host, s.port) for s in sentinel_group.sentinels]
    assert await discover_primary([dead, *live], sentinel_group.master_name, 1.0) == (
        "127.0.0.1",
        primary_port(sentinel_group),
    )


async def test_discovery_of_an_unknown_name_fails_as_a_connection_error(
    sentinel_group: SentinelGroup,
) -> None:
    with pytest.raises(redis.exceptions.ConnectionError, match="no sentinel names a primary 'nobody'"):
        await discover_primary([(s.host, s.port) for s in sentinel_group.sentinels], "nobody", 1.0)


async def test_redis_py_and_arq_reach_the_primary_through_the_sentinels(
    ha_settings: Settings, sentinel_group: SentinelGroup
) -> None:
    client = redis_client(ha_settings)
    try:
        assert int((await client.config_get("port"))["port"]) == primary_port(sentinel_group)
    finally:
        await client.aclose()
    arq = await create_arq_pool(ha_settings)
    try:
        assert int((await arq.config_get("port"))["port"]) == primary_port(sentinel_group)
    finally:
        await arq.aclose()
        pool = cast(SentinelConnectionPool, arq.connection_pool)
        for sentinel in pool.sentinel_manager.sentinels:  # arq leaves them open
            await sentinel.aclose()


async def test_a_wait_barrier_answers_after_the_replica_has_the_batch(
    pipe: RedisPipe, ha_settings: Settings
) -> None:
    def enough(acknowledged: int) -> None:
        if acknowledged < 1:
            raise redis.exceptions.RedisError("no replica")

    waiting = pipe_for(
        ha_settings, timeout_s=3.0, barrier=Barrier(pack_command(b"WAIT", b"1", b"2000"), enough)
    )
    try:
        assert await waiting.call(pack_command(b"SET", b"ha:acked", b"1")) == b"OK"
    finally:
        await waiting.aclose()


async def test_a_barrier_that_fails_fails_every_caller_of_its_batch(ha_settings: Settings) -> None:
    def never(acknowledged: int) -> None:
        raise redis.exceptions.RedisError(f"only {acknowledged} replicas")

    # Two replicas wanted, one exists: WAIT answers 1 after its 100 ms.
    waiting = pipe_for(
        ha_settings, timeout_s=3.0, barrier=Barrier(pack_command(b"WAIT", b"2", b"100"), never)
    )
    try:
        first, second = (waiting.call(pack_command(b"INCR", b"ha:counted")) for _ in range(2))
        for reply in (first, second):
            with pytest.raises(redis.exceptions.RedisError, match="only 1 replicas"):
                await reply
    finally:
        await waiting.aclose()


async def test_a_readonly_reply_closes_the_connection(sentinel_group: SentinelGroup) -> None:
    replica = next(node for node in sentinel_group.nodes if node.port != primary_port(sentinel_group))
    pipe = RedisPipe(replica.url, timeout_s=2.0)
    try:
        before = await pipe.call(pack_command(b"CLIENT", b"ID"))
        with pytest.raises(redis.exceptions.ResponseError, match="^READONLY"):
            await pipe.call(pack_command(b"SET", b"ha:nowhere", b"1"))
        assert await pipe.call(pack_command(b"CLIENT", b"ID")) != before  # a new connection
    finally:
        await pipe.aclose()


async def test_a_silent_sentinel_costs_only_its_share_of_the_timeout(ha_settings: Settings) -> None:
    held: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    silent = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    first_silent = (f"127.0.0.1:{port}", *ha_settings.redis_sentinels)
    pipe = pipe_for(msgspec.structs.replace(ha_settings, redis_sentinels=first_silent), timeout_s=1.0)
    try:
        assert await pipe.call(pack_command(b"PING")) == b"PONG"
    finally:
        await pipe.aclose()
        for writer in held:
            writer.close()
        silent.close()
        await silent.wait_closed()


async def test_the_pipe_follows_a_failover(pipe: RedisPipe, sentinel_group: SentinelGroup) -> None:
    old = primary_port(sentinel_group)
    assert await _port_of(pipe) == old
    sentinel_group.failover()

    async def moved() -> bool:
        return primary_port(sentinel_group) != old

    await eventually(moved, 30, "the sentinels to promote the replica")
    new = primary_port(sentinel_group)

    # The old primary keeps its clients until the sentinels demote it (CLIENT KILL) or a write
    # there answers READONLY; either closes our connection, and the next one asks the sentinels.
    async def writes_reach_the_new_primary() -> bool:
        role, _ = await pipe.call(ROLE), await pipe.call(pack_command(b"SET", b"ha:after", b"1"))
        return role[0] == b"master" and await _port_of(pipe) == new

    await eventually(
        writes_reach_the_new_primary,
        30,
        "writes to reach the new primary",
        retrying=(redis.exceptions.RedisError,),
    )
    direct = aioredis.Redis(port=new)
    try:
        assert await direct.get("ha:after") == b"1"
    finally:
        await direct.aclose()
