"""The access package's resources, as cleanup contexts: the API's pipelined Redis connection, the
rate limiter on it, and the key cache with its upkeep (pub/sub invalidation, last_used_at flushes).

The API talks to Redis over two connections: the pipe (the limiter's EVALSHAs and /readyz's PING)
and the key-change subscription, which must be a connection of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from services.api.access.gate import KeyCache
from services.api.access.limiter import WINDOW_SCRIPT, RateLimiter
from services.api.typedefs import key_cache_key, limiter_key
from shared.config import Settings
from shared.db.api_keys import touch_keys
from shared.db.statement_pool import StatementPool
from shared.keys import KEYS_CHANGED_CHANNEL
from shared.redis_pipe import pipe_for
from shared.web import redis_client, redis_key, settings_key, statements_key

log = structlog.get_logger(__name__)
RECONNECT_DELAY_S = 0.2
POLL_TIMEOUT_S = 0.5


async def _listen_once(settings: Settings, cache: KeyCache, stopping: asyncio.Event) -> None:
    """Subscribe, clear (we may have missed messages), then drop the cache on every message."""
    # A dedicated connection: PINGs every second notice a dead Redis quickly.
    client = redis_client(settings, health_check_interval=1)
    try:
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(KEYS_CHANGED_CHANNEL)
            cache.clear()
            cache.healthy = True
            while not stopping.is_set():
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_TIMEOUT_S)
                if message is not None:
                    cache.clear()
    finally:
        cache.healthy = False
        await client.aclose()


async def listen_for_key_changes(settings: Settings, cache: KeyCache, stopping: asyncio.Event) -> None:
    """Run the subscription until stopping, reconnecting; while it is down entries expire after 1 s."""
    while not stopping.is_set():
        try:
            await _listen_once(settings, cache, stopping)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any Redis failure: stay up, entries age out fast
            log.warning("key_changes_subscription_lost", error=str(exc))
        await asyncio.sleep(RECONNECT_DELAY_S)


async def flush_used(pool: StatementPool, cache: KeyCache) -> None:
    """Write the batched last_used_at values; on failure keep them for the next flush."""
    used = cache.take_used()
    if not used:
        return
    try:
        await touch_keys(pool, used)
    except Exception as exc:  # Postgres hiccup: try again next interval
        cache.restore_used(used)
        log.warning("last_used_flush_failed", error=str(exc), keys=len(used))


async def flush_periodically(pool: StatementPool, cache: KeyCache, interval_s: float) -> None:
    """flush_used every interval."""
    while True:
        await asyncio.sleep(interval_s)
        await flush_used(pool, cache)


async def key_cache_ctx(app: web.Application) -> AsyncIterator[None]:
    """The key cache and its two background tasks; the last uses are flushed on shutdown."""
    settings = app[settings_key]
    cache = KeyCache(settings.key_cache_ttl_s)
    app[key_cache_key] = cache
    stopping = asyncio.Event()
    tasks = [
        asyncio.create_task(listen_for_key_changes(settings, cache, stopping)),
        asyncio.create_task(flush_periodically(app[statements_key], cache, settings.last_used_flush_s)),
    ]
    yield
    # The flag as well as cancel(): redis-py's get_message(timeout=...) can swallow a cancellation
    # that lands as its timeout fires, which would leave the listener running and shutdown hanging.
    stopping.set()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await flush_used(app[statements_key], cache)


async def redis_pipe_ctx(app: web.Application) -> AsyncIterator[None]:
    """The API's pipelined Redis connection: the limiter's (its timeout, its script) and /readyz's."""
    settings = app[settings_key]
    timeout_s = settings.rate_limit_timeout_ms / 1000
    pipe = pipe_for(settings, timeout_s=timeout_s, scripts=(WINDOW_SCRIPT,))
    app[redis_key] = pipe
    yield
    await pipe.aclose()


async def limiter_ctx(app: web.Application) -> AsyncIterator[None]:
    """The process's RateLimiter; without this context nothing is limited and no headers are sent."""
    limiter = RateLimiter(app[redis_key], ip_limit_per_min=app[settings_key].ip_rate_limit_per_min)
    await limiter.warm_up()
    app[limiter_key] = limiter
    yield
