"""The API's /metrics: requests by route and status, latency, rate-limit decisions, Postgres
connections and the limiter's Redis state each move when their event happens."""

from __future__ import annotations

import asyncio

import asyncpg
import msgspec
import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from ops.embedded import free_port
from services.api.app import create_app
from services.api.typedefs import limiter_key
from shared.config import Settings
from shared.keys import KEY_PREFIX
from shared.web import statements_key
from tests.api.factories import make_tenant
from tests.helpers import eventually
from tests.shared.scrape import scrape, value

LIST = "/api/v1/conversations"


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def strict(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient:
    """The API with a client IP budget of one request a minute."""
    client: TestClient = await aiohttp_client(
        create_app(msgspec.structs.replace(settings, ip_rate_limit_per_min=1))
    )
    return client


async def test_requests_latency_and_decisions_move(strict: TestClient, pg: asyncpg.Pool) -> None:
    client = strict
    tenant = await make_tenant(pg, "metrics@example.com")
    before = await scrape(client)
    assert (await client.get(LIST, headers=_bearer(tenant.key))).status == 200
    bad_key = KEY_PREFIX + "0" * 40
    assert (await client.get(LIST, headers=_bearer(bad_key))).status == 401
    assert (await client.get(LIST, headers=_bearer(bad_key))).status == 429  # the IP's one is spent
    after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "ringready_http_requests_total"
    for status in ("200", "401", "429"):
        assert moved(requests, route=LIST, method="GET", status=status) == 1
    assert moved("ringready_http_request_duration_seconds_count", route=LIST, method="GET") == 3
    assert moved("ringready_http_request_duration_seconds_sum", route=LIST, method="GET") > 0
    decisions = "ringready_rate_limit_decisions_total"
    assert moved(decisions, policy="default", decision="allowed", source="redis") == 1
    assert moved(decisions, policy="ip", decision="allowed", source="redis") == 1
    assert moved(decisions, policy="ip", decision="denied", source="redis") == 1
    # The first scrape is counted by route template, like any other request.
    assert moved(requests, route="/metrics", method="GET", status="200") == 1


async def test_metrics_need_no_key_are_not_limited_and_leak_no_secret(
    strict: TestClient, pg: asyncpg.Pool
) -> None:
    client = strict
    tenant = await make_tenant(pg, "secret@example.com")
    assert (await client.get(LIST, headers=_bearer(tenant.key))).status == 200
    assert (await client.get(f"{LIST}/{tenant.key}", headers=_bearer(tenant.key))).status == 404
    for _ in range(5):  # well past the IP budget of 1
        reply = await client.get("/metrics")
        assert reply.status == 200
        assert "RateLimit" not in reply.headers
    text = await reply.text()
    assert tenant.key not in text
    assert KEY_PREFIX not in text
    assert "/api/v1/conversations/{id}" in text  # the template, not the path that held the key


async def test_postgres_connections_in_use_show(aiohttp_client: AiohttpClient, settings: Settings) -> None:
    client: TestClient = await aiohttp_client(create_app(settings))
    idle = await scrape(client)
    size = value(idle, "ringready_pg_pool_connections", state="size")
    assert size >= 1
    assert value(idle, "ringready_pg_pool_connections", state="open") == size
    assert value(idle, "ringready_pg_pool_connections", state="in_use") == 0
    slow = asyncio.create_task(client.server.app[statements_key].fetchval("SELECT pg_sleep(0.5)"))

    async def checked_out() -> str | None:
        text = await scrape(client)
        return text if value(text, "ringready_pg_pool_connections", state="in_use") >= 1 else None

    busy = await eventually(checked_out, 0.4, "the slow statement to hold a connection")
    await slow
    assert value(busy, "ringready_pg_pool_connections", state="in_use") == 1


async def test_limiter_redis_state_moves_to_degraded(
    aiohttp_client: AiohttpClient, settings: Settings, pg: asyncpg.Pool
) -> None:
    broken = msgspec.structs.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client: TestClient = await aiohttp_client(create_app(broken))
    tenant = await make_tenant(pg, "fallback@example.com")
    state = "ringready_rate_limiter_redis_state"
    healthy = await scrape(client)
    assert value(healthy, state, state="healthy") == 1
    assert value(healthy, state, state="degraded") == 0
    assert (await client.get(LIST, headers=_bearer(tenant.key))).status == 200  # decided in-process
    assert client.server.app[limiter_key].fallback_count >= 1
    degraded = await scrape(client)
    assert value(degraded, state, state="degraded") == 1
    assert value(degraded, state, state="healthy") == 0
    decisions = "ringready_rate_limit_decisions_total"
    assert value(degraded, decisions, policy="default", decision="allowed", source="fallback") >= 1


async def test_requests_in_flight_show_until_they_end(
    aiohttp_client: AiohttpClient, settings: Settings, pg: asyncpg.Pool
) -> None:
    """A request whose body is half sent is in flight (the SIGTERM tests wait on this gauge)."""
    client: TestClient = await aiohttp_client(create_app(settings))
    tenant = await make_tenant(pg, "in-flight@example.com")
    gauge = "ringready_http_requests_in_flight"
    labels = {"route": "/api/v1/agents/{id}", "method": "PATCH"}
    assert value(await scrape(client), gauge, **labels) == 0
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    head = (
        "PATCH /api/v1/agents/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 40\r\n"
        f"Authorization: Bearer {tenant.key}\r\nContent-Type: application/json\r\n\r\n"
    )
    writer.write(head.encode() + b'{"business_name": ')
    await writer.drain()

    async def counted(expected: float) -> bool:
        return value(await scrape(client), gauge, **labels) == expected

    await eventually(lambda: counted(1), 5, "the held request to be in flight")
    writer.close()  # the client goes away: the handler is cancelled, and no longer counted
    await eventually(lambda: counted(0), 5, "the held request to end")
    assert not await reader.read()


async def test_a_made_up_method_is_one_label(aiohttp_client: AiohttpClient, settings: Settings) -> None:
    """Any token is a method to HTTP; the label set stays bounded whatever clients send."""
    client: TestClient = await aiohttp_client(create_app(settings))
    for method in ("PROPFIND", "MKCOL", "LOCK"):  # HTTP methods of WebDAV, which aiohttp parses
        reply = await client.request(method, LIST)
        assert reply.status == 405, (method, reply.status, await reply.text())
    samples = await scrape(client)
    labels = {"route": "(no route)", "method": "other", "status": "405"}
    counted = value(samples, "ringready_http_requests_total", **labels)
    assert counted == 3
    assert not [labels for (_, labels) in samples if ("method", "PROPFIND") in labels]
