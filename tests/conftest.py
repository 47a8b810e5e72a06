"""Real servers for the whole session (embedded, or the URLs in RINGREADY_DATABASE_URL and
RINGREADY_REDIS_URL), migrated once; every test starts from clean tables and an empty Redis."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as aioredis

import shared.logging
from ops.embedded import ManagedServer, postgres_server, valkey_server
from ops.embedded.sentinel import SentinelGroup
from shared.config import Settings, from_env
from shared.db.migrate import migrate
from shared.db.pool import create_pool
from tests.helpers import (
    TEST_ELEVENLABS_SECRET,
    TEST_RETELL_API_KEY,
    TEST_VAPI_HMAC_SECRET,
    TEST_VAPI_SECRET,
    TEST_WEBHOOK_SECRET,
    Servers,
)
from tests.shared.sentinels import running_group, sentinel_settings

shared.logging.CACHE_LOGGERS = False

TABLES = (
    "accounts, api_keys, agents, agent_provider_ids, conversations, conversation_details, dead_letters, "
    "webhook_endpoints, webhook_events, webhook_deliveries, webhook_attempts"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `make test` (pytest-xdist, two processes), the slow tests, which kill and restart real
    processes, run one after another in one process while the other runs the rest: a fault test
    never shares the machine with another fault test, as it never did when the suite ran serially."""
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(pytest.mark.xdist_group("processes"))


def _own_redis_database(url: str) -> str:
    """Under pytest-xdist, each process flushes its own database of a Redis named by the environment
    (embedded servers are one per process already)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{int(worker[2:]) + 1}"))


async def _create_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    """Postgres and Redis for the session; embedded unless the environment names them."""
    env = from_env()
    root = Path(tempfile.mkdtemp(prefix="ringready-test-"))
    started: list[ManagedServer] = []
    pg = redis = None
    if not env.database_url:
        pg = postgres_server(root, durable=False)
        started.append(pg)
    if not env.redis_url:
        redis = valkey_server(root)
        started.append(redis)
    for server in started:
        server.start()
    admin_url = pg.url if pg else env.database_url
    database = f"ringready_test_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_database(admin_url, database))
    database_url = admin_url.rsplit("/", 1)[0] + f"/{database}"
    asyncio.run(_migrate(database_url))
    yield Servers(
        database_url=database_url,
        redis_url=redis.url if redis else _own_redis_database(env.redis_url),
        root=root,
        postgres=pg,
        redis=redis,
    )
    for server in reversed(started):
        server.stop()


@pytest.fixture
def settings(servers: Servers) -> Settings:
    """Settings a test app runs with; tests change fields with msgspec.structs.replace."""
    return Settings(
        database_url=servers.database_url,
        redis_url=servers.redis_url,
        data_dir=str(servers.root),
        webhook_secrets=(TEST_WEBHOOK_SECRET,),
        vapi_secrets=(TEST_VAPI_SECRET,),
        vapi_hmac_secrets=(TEST_VAPI_HMAC_SECRET,),
        retell_api_keys=(TEST_RETELL_API_KEY,),
        elevenlabs_secrets=(TEST_ELEVENLABS_SECRET,),
        job_timeout_s=5,
        pg_pool_min=1,
        pg_pool_max=5,
    )


@pytest.fixture(autouse=True)
async def clean_state(servers: Servers) -> None:
    """Each test starts from empty tables and an empty Redis."""
    conn = await asyncpg.connect(servers.database_url)
    try:
        await conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    client = aioredis.Redis.from_url(servers.redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


@pytest.fixture
async def pg(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test database, for arranging and asserting rows."""
    pool = await create_pool(settings)
    yield pool
    await pool.close()


@pytest.fixture
async def redis_client(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    """A Redis client on the test server."""
    client = aioredis.Redis.from_url(settings.redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="module")
def sentinel_group() -> Iterator[SentinelGroup]:
    """A primary, a replica and three sentinels, one group per test module that asks for it."""
    with running_group() as made:
        yield made


@pytest.fixture
async def ha_settings(settings: Settings, sentinel_group: SentinelGroup) -> Settings:
    """The test settings pointed at the group's sentinels, its primary emptied."""
    return await sentinel_settings(settings, sentinel_group)
