"""Key authentication: both headers, 401 shapes, scopes, cached lookups, revocation on every process."""

from __future__ import annotations

import time
from datetime import datetime

import asyncpg
import msgspec
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from shared.config import Settings
from shared.db.api_keys import revoke_key
from shared.keys import KEYS_CHANGED_CHANNEL, generate_key
from tests.api.conftest import World
from tests.api.contract import Api
from tests.helpers import eventually

WHOAMI = "/api/v1/whoami"


async def test_x_api_key_header_works_too(api: Api, world: World) -> None:
    body = await api.call("GET", WHOAMI, key=None, status=200, headers={"X-API-KEY": world.a.key})
    assert body["user_id"] == world.a.account_id


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Missing API key: send 'Authorization: Bearer rr_live_...' (or 'X-API-KEY: rr_live_...')."),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "Authorization header must be 'Bearer <api key>'."),
        ({"Authorization": "Bearer "}, "Authorization header must be 'Bearer <api key>'."),
        ({"Authorization": "Bearer not-a-key"}, "Invalid API key."),
        ({"Authorization": f"Bearer {generate_key()}"}, "Invalid or revoked API key."),
        ({"X-API-KEY": generate_key()}, "Invalid or revoked API key."),
    ],
)
async def test_missing_or_invalid_keys_are_401(
    api: Api, world: World, headers: dict[str, str], detail: str
) -> None:
    for template in (WHOAMI, "/api/v1/conversations", "/api/v1/agents"):
        body = await api.call("GET", template, key=None, status=401, headers=headers)
        assert body == {"detail": detail}


async def test_public_paths_need_no_key(api: Api) -> None:
    assert (await api.client.get("/api/v1/openapi.json")).status == 200
    assert (await api.client.get("/llms.txt")).status == 200


async def test_warm_key_check_does_not_read_postgres(api: Api, pg: asyncpg.Pool, world: World) -> None:
    await api.call("GET", WHOAMI, key=world.a.key, status=200)
    # Revoked in the table but not announced: only a cache answer can still accept it.
    await revoke_key(pg, str(world.a.key_id))
    await api.call("GET", WHOAMI, key=world.a.key, status=200)


async def _status(client: TestClient, key: str) -> int:
    reply = await client.get(WHOAMI, headers={"Authorization": f"Bearer {key}"})
    return reply.status


async def _wait_subscribed(redis_client: aioredis.Redis, count: int) -> None:
    async def subscribed() -> bool:
        counts = dict(await redis_client.pubsub_numsub(KEYS_CHANGED_CHANNEL))
        return bool(counts.get(KEYS_CHANGED_CHANNEL.encode(), 0) >= count)

    await eventually(subscribed, 5, f"{count} API processes to subscribe")


async def test_revocation_reaches_every_process_within_a_second(
    aiohttp_client, settings: Settings, pg: asyncpg.Pool, redis_client: aioredis.Redis, world: World
) -> None:  # type: ignore[no-untyped-def]
    # Two apps with their own caches stand in for two API processes.
    one: TestClient = await aiohttp_client(create_app(settings))
    two: TestClient = await aiohttp_client(create_app(settings))
    await _wait_subscribed(redis_client, 2)
    assert await _status(one, world.a.key) == 200 and await _status(two, world.a.key) == 200
    await revoke_key(pg, str(world.a.key_id))
    started = time.monotonic()
    await redis_client.publish(KEYS_CHANGED_CHANNEL, str(world.a.key_id))
    pending = {one, two}

    async def every_process_refuses() -> bool:
        nonlocal pending
        pending = {c for c in pending if await _status(c, world.a.key) != 401}
        return not pending

    left_s = 1.0 - (time.monotonic() - started)  # the second counts from before the publish
    await eventually(every_process_refuses, left_s, "every process to refuse the revoked key", every_s=0.01)
    assert await _status(one, world.a.read_key) == 200  # other keys unaffected


async def test_last_used_is_recorded_in_batches(
    aiohttp_client, settings: Settings, pg: asyncpg.Pool, world: World
) -> None:  # type: ignore[no-untyped-def]
    fast = msgspec.structs.replace(settings, last_used_flush_s=0.05)
    client: TestClient = await aiohttp_client(create_app(fast))
    before = time.time()
    assert await _status(client, world.a.key) == 200

    async def last_used() -> datetime | None:
        return await pg.fetchval("SELECT last_used_at FROM api_keys WHERE id = $1", world.a.key_id)

    async def recorded() -> bool:
        return await last_used() is not None

    await eventually(recorded, 5, "last_used_at to be written")
    used = await last_used()
    assert used is not None and used.timestamp() >= before - 1
    unused = await pg.fetchval("SELECT last_used_at FROM api_keys WHERE id <> $1 AND account_id = $2 LIMIT 1",
                               world.a.key_id, world.a.account_id)  # fmt: skip
    assert unused is None


async def test_without_pubsub_revocation_still_lands_within_about_a_second(
    aiohttp_client, settings: Settings, pg: asyncpg.Pool, world: World
) -> None:  # type: ignore[no-untyped-def]
    # Nothing listens on this port: the subscription never becomes healthy.
    no_redis = msgspec.structs.replace(settings, redis_url="redis://127.0.0.1:1/0")
    client: TestClient = await aiohttp_client(create_app(no_redis))
    assert await _status(client, world.a.key) == 200
    await revoke_key(pg, str(world.a.key_id))  # and nobody publishes

    async def refused() -> bool:
        return await _status(client, world.a.key) == 401

    await eventually(refused, 1.5, "the stale cache entry to expire (its bound is 1 s)", every_s=0.02)
