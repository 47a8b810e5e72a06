"""Redis slow or down: the limiter fails open to per-process buckets and recovers by itself."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis
import structlog

from ops.embedded import free_port
from services.api.access.limiter import RateLimiter
from shared.config import Settings
from tests.api.factories import pipe_to
from tests.helpers import Servers, eventually


async def until_redis_answers(limiter: RateLimiter, key_id: int, limit: int) -> None:
    async def answered_by_redis() -> bool:
        return (await limiter.hit_key(key_id, limit)).source == "redis"

    await eventually(answered_by_redis, 20, "the limiter to go back to Redis")


async def test_closed_port_falls_back_exactly_and_warns_once() -> None:
    client = pipe_to(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.05)
    limiter = RateLimiter(client, ip_limit_per_min=30)
    try:
        with structlog.testing.capture_logs() as logs:
            decisions = [await limiter.hit_key(1, 5) for _ in range(8)]
    finally:
        await client.aclose()
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 3
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    assert all(d.source == "fallback" for d in decisions)
    assert limiter.fallback_count == 8
    assert limiter.redis_failures == 1  # the backoff skipped Redis for the other seven
    assert [entry["event"] for entry in logs] == ["rate_limiter_fallback"]
    assert abs(decisions[0].now_epoch_s - time.time()) < 5


async def test_slow_redis_times_out_then_recovers(settings: Settings, redis_client: aioredis.Redis) -> None:
    client = pipe_to(settings.redis_url, timeout_s=0.05)
    limiter = RateLimiter(client, ip_limit_per_min=30)
    try:
        assert (await limiter.hit_key(1, 60)).source == "redis"
        await redis_client.execute_command("CLIENT", "PAUSE", "1000", "ALL")
        slow = await limiter.hit_key(1, 60)  # answered by the 50 ms timeout, not after the 1 s pause
        assert slow.source == "fallback" and slow.allowed
        with structlog.testing.capture_logs() as logs:
            await until_redis_answers(limiter, 1, 60)
        assert "rate_limiter_recovered" in [entry["event"] for entry in logs]
        assert (await limiter.hit_key(1, 60)).source == "redis"
    finally:
        await client.aclose()


@pytest.mark.slow
async def test_redis_stopped_and_started_again(servers: Servers, settings: Settings) -> None:
    if servers.redis is None:
        pytest.skip("Redis is external: the test cannot stop it")
    client = pipe_to(settings.redis_url, timeout_s=0.05)
    limiter = RateLimiter(client, ip_limit_per_min=30)
    try:
        assert (await limiter.hit_key(9, 3)).source == "redis"
        await asyncio.to_thread(servers.redis.stop)
        down = [await limiter.hit_key(9, 3) for _ in range(4)]
        assert all(d.source == "fallback" for d in down)
        assert [d.allowed for d in down] == [True, True, True, False]  # the process's own budget
        await asyncio.to_thread(servers.redis.start)
        await until_redis_answers(limiter, 10, 100)
        assert limiter.fallback_count >= 4
    finally:
        await client.aclose()
        await asyncio.to_thread(servers.redis.start)
