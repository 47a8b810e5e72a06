"""RINGREADY_DATABASE_READ_URL against a real streaming replica: the API's reads go to it, keys and
PATCH to the primary, and a dead replica leaves the API ready with its reads on the primary.

The replica's replay is paused to make its lag visible: a row written on the primary is then
missing from the replica until replay resumes, so each assertion tells which server answered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from ops.embedded import free_port
from services.api.app import create_app
from services.api.reads import read
from services.api.typedefs import read_replica_key
from shared.config import Settings
from shared.db.pool import create_pool, create_statement_pool
from shared.web import statements_key
from tests.api.contract import Api
from tests.api.factories import Tenant, make_agent, make_conversation, make_key, make_tenant
from tests.api.replication import (
    Replicated,
    caught_up,
    connections,
    pause_replay,
    replicated_pair,
    resume_replay,
)
from tests.helpers import eventually

T0 = datetime(2026, 6, 9, 14, 3, tzinfo=UTC)
LIST, ONE = "/api/v1/conversations", "/api/v1/conversations/{id}"
AGENTS, AGENT = "/api/v1/agents", "/api/v1/agents/{id}"
WAIT_S = 30.0


@pytest.fixture(scope="module")
def pair() -> Iterator[Replicated]:
    """This module's own primary and replica (the session's Postgres has none)."""
    yield from replicated_pair()


@pytest.fixture
def replicated_settings(settings: Settings, pair: Replicated) -> Settings:
    return msgspec.structs.replace(
        settings, database_url=pair.primary_url, database_read_url=pair.replica_url
    )


@pytest.fixture
async def primary_pg(replicated_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the primary, for arranging rows."""
    pool = await create_pool(replicated_settings)
    yield pool
    await pool.close()


@pytest.fixture
async def sql(pair: Replicated) -> AsyncIterator[tuple[asyncpg.Connection, asyncpg.Connection]]:
    """Connections to the primary and the replica, both empty; replay runs again afterwards."""
    async with connections(pair) as (primary, replica):
        await primary.execute("TRUNCATE accounts RESTART IDENTITY CASCADE")
        await caught_up(primary, replica)
        yield primary, replica
    async with connections(pair) as (_, replica):  # afresh: a test may have restarted the replica
        await resume_replay(replica)


async def _tenant_with_agent(pg: asyncpg.Pool) -> tuple[Tenant, int]:
    tenant = await make_tenant(pg, "replica@example.com")
    return tenant, await make_agent(pg, tenant.account_id, "+15551230000")


async def _call(pg: asyncpg.Pool, tenant: Tenant, agent_id: int, call_id: str) -> int:
    return await make_conversation(
        pg, tenant.account_id, agent_id, started_at=T0, ended_at=T0 + timedelta(minutes=1), call_id=call_id
    )


def _ids(page: Any) -> list[int]:
    return [item["id"] for item in page["conversations"]]


async def test_reads_go_to_the_replica_keys_and_patch_to_the_primary(
    aiohttp_client: Any, replicated_settings: Settings, primary_pg: asyncpg.Pool, sql: Any
) -> None:
    primary, replica = sql
    tenant, agent = await _tenant_with_agent(primary_pg)
    await caught_up(primary, replica)
    api = Api(await aiohttp_client(create_app(replicated_settings)))
    await pause_replay(replica)
    call = await _call(primary_pg, tenant, agent, "written-while-paused")
    new_agent = await make_agent(primary_pg, tenant.account_id, "+15551230001", business_name="New Co")
    new_key, _ = await make_key(primary_pg, tenant.account_id, ["read", "write"])

    # The replica has not replayed these writes: the API's reads don't show them...
    assert _ids(await api.call("GET", LIST, key=tenant.key, status=200)) == []
    await api.call("GET", ONE, path_id=call, key=tenant.key, status=404)
    agents = await api.call("GET", AGENTS, key=tenant.key, status=200)
    assert [a["id"] for a in agents["agents"]] == [agent]
    await api.call("GET", AGENT, path_id=new_agent, key=tenant.key, status=404)
    # ...but a key created a moment ago works at once, and PATCH finds the agent it writes.
    patched = await api.call(
        "PATCH", AGENT, path_id=new_agent, key=new_key, status=200, json={"business_name": "Patched Co"}
    )
    assert patched == {"id": new_agent, "updated": ["business_name"]}
    assert await primary.fetchval("SELECT business_name FROM agents WHERE id = $1", new_agent) == "Patched Co"

    await resume_replay(replica)
    await caught_up(primary, replica)
    assert _ids(await api.call("GET", LIST, key=tenant.key, status=200)) == [call]
    await api.call("GET", ONE, path_id=call, key=tenant.key, status=200)
    shown = await api.call("GET", AGENT, path_id=new_agent, key=tenant.key, status=200)
    assert shown["business_name"] == "Patched Co"


async def test_readyz_reports_the_replica(
    aiohttp_client: Any, replicated_settings: Settings, sql: Any
) -> None:
    client: TestClient = await aiohttp_client(create_app(replicated_settings))
    reply = await client.get("/readyz")
    assert reply.status == 200
    assert await reply.json() == {"status": "ok", "postgres": "ok", "redis": "ok", "postgres_replica": "ok"}


async def _replica_state(client: TestClient) -> str | None:
    reply = await client.get("/readyz")
    assert reply.status == 200  # the replica is never required
    state: str = (await reply.json())["postgres_replica"]
    return state


async def test_a_dead_replica_leaves_the_api_ready_reading_from_the_primary(
    aiohttp_client: Any, replicated_settings: Settings, primary_pg: asyncpg.Pool, pair: Replicated, sql: Any
) -> None:
    primary, replica = sql
    tenant, agent = await _tenant_with_agent(primary_pg)
    await caught_up(primary, replica)
    client: TestClient = await aiohttp_client(create_app(replicated_settings))
    api = Api(client)
    await pause_replay(replica)
    first = await _call(primary_pg, tenant, agent, "only-on-the-primary")
    assert _ids(await api.call("GET", LIST, key=tenant.key, status=200)) == []  # the replica answers

    pair.replica.kill()
    assert await _replica_state(client) == "down"
    # Every read now succeeds, from the primary (only it has the conversation).
    for _ in range(replicated_settings.pg_pool_max + 1):  # each dead connection is met once
        assert _ids(await api.call("GET", LIST, key=tenant.key, status=200)) == [first]

    pair.replica.start()  # same data and port; replay is no longer paused after a restart
    await eventually(lambda: _state_is(client, "ok"), WAIT_S, "readyz reports the restarted replica as ok")
    async with connections(pair) as (_, restarted):
        await caught_up(primary, restarted)
        await pause_replay(restarted)
        second = await _call(primary_pg, tenant, agent, "missing-on-the-paused-replica")

        async def reads_on_the_replica() -> bool:
            return _ids(await api.call("GET", LIST, key=tenant.key, status=200)) == [first]

        await eventually(reads_on_the_replica, WAIT_S, f"reads back on the replica (without {second})")


async def _state_is(client: TestClient, expected: str) -> bool:
    return await _replica_state(client) == expected


async def test_the_api_starts_and_reads_while_the_replica_is_unreachable(
    aiohttp_client: Any, settings: Settings, pg: asyncpg.Pool
) -> None:
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    client: TestClient = await aiohttp_client(
        create_app(msgspec.structs.replace(settings, database_read_url=unreachable))
    )
    tenant, agent = await _tenant_with_agent(pg)
    call = await _call(pg, tenant, agent, "read-from-the-primary")
    assert await _replica_state(client) == "down"
    assert _ids(await Api(client).call("GET", LIST, key=tenant.key, status=200)) == [call]


# Real errors from the real servers: raised only where pg_is_in_recovery(), i.e. on the replica.
REFUSED_ON_THE_REPLICA_SQL = """
DO $$ BEGIN
    IF pg_is_in_recovery() THEN
        RAISE EXCEPTION 'on the replica' USING ERRCODE = '{sqlstate}';
    END IF;
END $$
"""


async def _read_with_both_pools(settings: Settings, sql: str) -> str:
    """services.api.reads.read on an app holding the primary's and the replica's pools."""
    app = web.Application()
    primary = await create_statement_pool(settings)
    replica = await create_statement_pool(settings, settings.database_read_url)
    app[statements_key], app[read_replica_key] = primary, replica
    try:
        status: str = await read(app, lambda pool: pool.execute(sql))
        return status
    finally:
        await replica.close()
        await primary.close()


async def test_a_read_the_replica_cancels_for_recovery_runs_again_on_the_primary(
    replicated_settings: Settings, sql: Any
) -> None:
    # 40001 is what a standby raises for a query that conflicts with replay.
    status = await _read_with_both_pools(
        replicated_settings, REFUSED_ON_THE_REPLICA_SQL.format(sqlstate="40001")
    )
    assert status == "DO"


async def test_any_other_error_of_the_replica_is_the_callers(replicated_settings: Settings, sql: Any) -> None:
    with pytest.raises(asyncpg.InvalidParameterValueError, match="on the replica"):
        await _read_with_both_pools(replicated_settings, REFUSED_ON_THE_REPLICA_SQL.format(sqlstate="22023"))
