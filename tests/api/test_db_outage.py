"""Postgres going away under a running API: 503s that say so (never a 500), then recovery, no restart."""

from __future__ import annotations

import asyncpg
import msgspec
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from services.api.app import create_app
from shared.config import Settings
from shared.db.migrate import migrate
from tests.api.factories import make_tenant
from tests.helpers import create_database, eventually

LIST = "/api/v1/conversations"
UNAVAILABLE = {"detail": "Database unavailable; retry shortly."}


async def test_postgres_unreachable_is_503_then_the_api_recovers(
    aiohttp_client: AiohttpClient, settings: Settings, pg: asyncpg.Pool
) -> None:
    name, url = await create_database(settings.database_url, "api_outage")
    try:
        async with asyncpg.create_pool(url, min_size=1, max_size=1) as own:
            async with own.acquire() as conn:
                await migrate(conn)
            tenant = await make_tenant(own, "outage@example.com")
        app = create_app(msgspec.structs.replace(settings, database_url=url))
        client: TestClient = await aiohttp_client(app)
        auth = {"Authorization": f"Bearer {tenant.key}"}
        assert (await client.get(LIST, headers=auth)).status == 200  # the key is cached from here on

        await pg.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        await pg.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        for _ in range(settings.pg_pool_max + 2):  # every connection finds out, then none is left
            reply = await client.get(LIST, headers=auth)
            assert (reply.status, await reply.json()) == (503, UNAVAILABLE)

        await pg.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')

        async def answered() -> ClientResponse | None:
            reply = await client.get(LIST, headers=auth)
            if reply.status == 200:
                return reply
            assert reply.status == 503
            return None

        reply = await eventually(answered, 10, "the API to answer 200 again")
        assert (await reply.json())["conversations"] == []
        await client.close()
    finally:
        await pg.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
