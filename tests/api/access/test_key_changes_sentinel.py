"""With sentinels, the API's key-revocation subscription follows a failover: it moves to the new
primary, and a key change published there still clears the key cache."""

from __future__ import annotations

import asyncio
import contextlib

import redis.asyncio as aioredis

from ops.embedded.sentinel import SentinelGroup
from services.api.access.contexts import listen_for_key_changes
from services.api.access.gate import ApiKeyInfo, KeyCache
from shared.config import Settings
from shared.keys import KEYS_CHANGED_CHANNEL
from tests.helpers import eventually
from tests.shared.sentinels import primary_port

INFO = ApiKeyInfo(
    key_id=1, account_id=2, email="a@example.com", prefix="rr_live_abcd", scopes=("read",), plan="free",
    rate_limit_per_min=None,
)  # fmt: skip


async def _subscribers(port: int) -> int:
    client = aioredis.Redis(port=port)
    try:
        [(_, count)] = await client.pubsub_numsub(KEYS_CHANGED_CHANNEL)
        return int(count)
    finally:
        await client.aclose()


async def _publish(port: int) -> None:
    client = aioredis.Redis(port=port)
    try:
        await client.publish(KEYS_CHANGED_CHANNEL, b"changed")
    finally:
        await client.aclose()


async def test_the_subscription_follows_a_failover(
    ha_settings: Settings, sentinel_group: SentinelGroup
) -> None:
    cache = KeyCache(ttl_s=60)
    stopping = asyncio.Event()
    listener = asyncio.create_task(listen_for_key_changes(ha_settings, cache, stopping))
    try:
        old = primary_port(sentinel_group)

        async def subscribed_at_old() -> bool:
            return cache.healthy and await _subscribers(old) == 1

        await eventually(subscribed_at_old, 10, "the subscription on the primary")
        await asyncio.to_thread(sentinel_group.failover)

        async def promoted() -> bool:
            return await asyncio.to_thread(primary_port, sentinel_group) != old

        await eventually(promoted, 30, "the sentinels to promote the replica")
        new = primary_port(sentinel_group)

        async def subscribed_at_new() -> bool:
            return cache.healthy and await _subscribers(new) == 1

        # The sentinels demote the old primary and close its clients; the listener reconnects.
        await eventually(subscribed_at_new, 40, "the subscription to move to the new primary")
        cache.put(b"hash", INFO, cache.generation)
        await _publish(new)

        async def cleared() -> bool:
            return len(cache) == 0

        await eventually(cleared, 5, "the key change to clear the cache")
    finally:
        stopping.set()
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
