from __future__ import annotations

import msgspec
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from shared.config import Settings


async def test_healthz_answers(aiohttp_client, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    client: TestClient = await aiohttp_client(create_app(settings))
    reply = await client.get("/healthz")
    assert reply.status == 200
    assert await reply.json() == {"status": "ok"}


async def test_readyz_when_both_answer(aiohttp_client, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    client: TestClient = await aiohttp_client(create_app(settings))
    reply = await client.get("/readyz")
    assert reply.status == 200
    assert await reply.json() == {"status": "ok", "postgres": "ok", "redis": "ok"}


async def test_readyz_names_redis_when_it_is_down(aiohttp_client, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    # A port nothing listens on: the client connects lazily, so the app starts.
    broken = msgspec.structs.replace(settings, redis_url="redis://127.0.0.1:1/0")
    client: TestClient = await aiohttp_client(create_app(broken))
    reply = await client.get("/readyz")
    assert reply.status == 503
    body = await reply.json()
    assert body["detail"] == "redis unavailable"
    assert body["postgres"] == "ok"


async def test_request_id_is_generated_or_echoed(aiohttp_client, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    client: TestClient = await aiohttp_client(create_app(settings))
    generated = await client.get("/healthz")
    assert generated.headers["X-Request-ID"].startswith("req_")
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"
    junk = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert junk.headers["X-Request-ID"].startswith("req_")


async def test_unknown_path_and_wrong_method_get_json_errors(aiohttp_client, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    client: TestClient = await aiohttp_client(create_app(settings))
    missing = await client.get("/nope")
    assert missing.status == 404
    assert await missing.json() == {"detail": "Not Found"}
    wrong = await client.post("/healthz")
    assert wrong.status == 405
    assert "GET" in wrong.headers["Allow"]
    assert (await wrong.json())["detail"] == "Method Not Allowed"
