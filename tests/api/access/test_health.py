"""RedisHealth: the limiter's states (HEALTHY, DEGRADED, PROBING), driven by real Redis calls."""

from __future__ import annotations

import asyncio

import pytest
import structlog
from redis.exceptions import RedisError

from services.api.access.health import RedisHealth, RedisState
from shared.config import Settings
from shared.redis_pipe import RedisPipe, pack_command
from tests.helpers import Servers, eventually

PING = pack_command(b"PING")


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def ping_through(health: RedisHealth, pipe: RedisPipe) -> bool | None:
    """One call as the limiter makes it: None if the health says skip Redis, else whether it answered."""
    if not health.may_call():
        return None
    probe = health.calling()
    try:
        await pipe.call(PING)
    except RedisError as exc:
        health.failed(exc, probe=probe, fallback_requests=0)
        return False
    health.answered(fallback_requests=0)
    return True


def test_a_failure_degrades_then_one_probe_after_the_backoff() -> None:
    clock = Clock()
    health = RedisHealth(backoff_s=1.0, clock=clock)
    assert health.state is RedisState.HEALTHY and health.may_call()
    assert health.calling() is False  # healthy calls are not probes
    health.failed(RedisError("down"), probe=False, fallback_requests=0)
    assert health.state is RedisState.DEGRADED and not health.may_call()
    clock.now += 1.0
    assert health.may_call() and health.calling() is True
    assert health.state is RedisState.PROBING and not health.may_call()  # one probe at a time
    health.failed(RedisError("still down"), probe=False, fallback_requests=0)  # an older call's failure
    assert health.state is RedisState.PROBING  # the probe is still out
    health.failed(RedisError("still down"), probe=True, fallback_requests=0)
    assert health.state is RedisState.DEGRADED and not health.may_call()
    clock.now += 1.0
    assert health.calling() is True
    health.answered(fallback_requests=0)
    assert health.state is RedisState.HEALTHY and health.failures == 3


def test_warnings_are_throttled_and_each_has_one_recovery() -> None:
    clock = Clock()
    health = RedisHealth(backoff_s=1.0, clock=clock)
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            health.failed(RedisError("down"), probe=False, fallback_requests=7)
        health.answered(fallback_requests=9)
        health.answered(fallback_requests=9)
    assert [(entry["event"], entry["fallback_requests"]) for entry in logs] == [
        ("rate_limiter_fallback", 7),
        ("rate_limiter_recovered", 9),
    ]


@pytest.mark.slow
async def test_a_stopped_valkey_degrades_and_a_started_one_heals(
    servers: Servers, settings: Settings
) -> None:
    if servers.redis is None:
        pytest.skip("Redis is external: the test cannot stop it")
    pipe = RedisPipe(settings.redis_url, timeout_s=0.2)
    health = RedisHealth(backoff_s=0.2)
    try:
        assert await ping_through(health, pipe) is True
        await asyncio.to_thread(servers.redis.stop)
        assert await ping_through(health, pipe) is False
        assert health.state is RedisState.DEGRADED
        assert await ping_through(health, pipe) is None  # within the backoff: Redis is not asked

        async def probed() -> tuple[bool] | None:
            answer = await ping_through(health, pipe)
            return None if answer is None else (answer,)  # None: still within the backoff

        assert await eventually(probed, 5, "the backoff to end and a probe to go out") == (False,)  # refused
        assert health.state is RedisState.DEGRADED and health.failures == 2
        await asyncio.to_thread(servers.redis.start)

        async def healed() -> bool:
            await ping_through(health, pipe)
            return health.state is RedisState.HEALTHY

        await eventually(healed, 20, "the health to come back")
    finally:
        await pipe.aclose()
        await asyncio.to_thread(servers.redis.start)
