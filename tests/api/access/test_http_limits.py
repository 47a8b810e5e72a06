"""Rate limiting through HTTP: the middlewares around the real auth, on real Postgres and Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import msgspec
import structlog
import structlog.testing
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from ops.embedded import free_port
from services.api.access.contexts import key_cache_ctx, limiter_ctx, redis_pipe_ctx
from services.api.access.gate import access_middleware
from services.api.typedefs import key_cache_key, limiter_key
from shared import errors
from shared.config import Settings
from shared.db.accounts import insert_account
from shared.db.pool import connect
from shared.db.statement_pool import StatementPool
from shared.middleware import request_middleware
from shared.web import add_health_routes, json_response, postgres_key, settings_key, statements_key
from tests.api.factories import make_key
from tests.helpers import eventually

queries_key = web.AppKey("queries", list)


async def ping(request: web.Request) -> web.Response:
    return json_response({"ok": True})


async def missing(request: web.Request) -> web.Response:
    raise errors.NotFound("no conversation 5")


async def select_one(request: web.Request) -> web.Response:
    return json_response({"one": await request.app[statements_key].fetchval("SELECT 1")})


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret internals")


async def counting_pg_ctx(app: web.Application) -> AsyncIterator[None]:
    """The real pool, noting every statement it runs (to prove what never reaches Postgres)."""
    seen: list[str] = app[queries_key]

    async def logged_connection() -> asyncpg.Connection:
        conn = await connect(app[settings_key])
        conn.add_query_logger(lambda record: seen.append(record.query))
        return conn

    pool = StatementPool(logged_connection, size=2)
    await pool.open()
    app[statements_key] = app[postgres_key] = pool
    yield
    await pool.close()


def make_app(settings: Settings) -> web.Application:
    """The API's middlewares and contexts as services/api/app.py wires them, with test handlers."""
    middlewares = [request_middleware, access_middleware]
    app = web.Application(middlewares=middlewares)
    app[settings_key] = settings
    app[queries_key] = []
    app.cleanup_ctx.extend([counting_pg_ctx, redis_pipe_ctx, key_cache_ctx, limiter_ctx])
    app.router.add_get("/api/v1/ping", ping)
    app.router.add_get("/api/v1/missing", missing)
    app.router.add_get("/api/v1/boom", boom)
    app.router.add_get("/api/v1/select", select_one)
    add_health_routes(app, required=("postgres", "redis"))
    return app


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def new_key(pg: asyncpg.Pool, email: str, plan: str = "free", override: int | None = None) -> str:
    account_id = await insert_account(pg, email, plan)
    secret, _ = await make_key(pg, account_id, ["read", "write"], override)
    return secret


async def test_headers_track_the_bucket_until_429(
    aiohttp_client: AiohttpClient, settings: Settings, pg: asyncpg.Pool
) -> None:
    client: TestClient = await aiohttp_client(make_app(settings))
    key = await new_key(pg, "a@example.com", override=5)
    for expected in (4, 3, 2, 1, 0):
        reply = await client.get("/api/v1/ping", headers=bearer(key))
        assert reply.status == 200
        assert reply.headers["X-RateLimit-Limit"] == "5"
        assert reply.headers["X-RateLimit-Remaining"] == str(expected)
        assert reply.headers["RateLimit-Policy"] == '"default";q=5;w=60'
        # t: until the first request leaves the 60 s window (at most `r` more are admitted before)
        t = int(reply.headers["RateLimit"].rpartition("t=")[2])
        assert reply.headers["RateLimit"] == f'"default";r={expected};t={t}' and 59 <= t <= 60
        assert 0 < int(reply.headers["X-RateLimit-Reset"]) - time.time() <= t + 1
        assert "Retry-After" not in reply.headers
    denied = await client.get("/api/v1/ping", headers=bearer(key))
    assert denied.status == 429
    retry = int(denied.headers["Retry-After"])
    assert 59 <= retry <= 60  # q=5;w=60 means it: no sixth request until the first leaves the window
    assert denied.headers["RateLimit"] == f'"default";r=0;t={retry}'
    assert denied.headers["X-RateLimit-Remaining"] == "0"
    assert retry - 1 <= int(denied.headers["X-RateLimit-Reset"]) - time.time() <= retry + 1
    body = await denied.json()
    assert body == {
        "detail": "Rate limit exceeded for this API key: at most 5 requests in any 60 s."
        f" Retry after {retry} s."
    }


async def test_concurrent_requests_get_their_own_consistent_headers(
    aiohttp_client: AiohttpClient, settings: Settings, pg: asyncpg.Pool
) -> None:
    client: TestClient = await aiohttp_client(make_app(settings))
    key = await new_key(pg, "a@example.com", override=8)
    await client.get("/api/v1/ping", headers=bearer(key))  # the key is cached: no Postgres wait below
    replies = await asyncio.gather(*(client.get("/api/v1/ping", headers=bearer(key)) for _ in range(12)))
    admitted = [r for r in replies if r.status == 200]
    denied = [r for r in replies if r.status == 429]
    assert len(admitted) == 7 and len(denied) == 5
    assert sorted(int(r.headers["X-RateLimit-Remaining"]) for r in admitted) == list(range(7))
    for reply in replies:
        remaining = reply.headers["X-RateLimit-Remaining"]
        t = int(reply.headers["RateLimit"].rpartition("t=")[2])
        assert reply.headers["RateLimit"] == f'"default";r={remaining};t={t}'
        assert reply.headers["RateLimit-Policy"] == '"default";q=8;w=60'
        assert reply.headers["X-RateLimit-Limit"] == "8"
        assert t - 1 <= int(reply.headers["X-RateLimit-Reset"]) - time.time() <= t + 1
        if reply.status == 429:
            assert remaining == "0" and reply.headers["Retry-After"] == str(t) and 59 <= t <= 60
        else:
            assert "Retry-After" not in reply.headers and 59 <= t <= 60


async def test_error_responses_carry_the_headers(
    aiohttp_client: AiohttpClient, settings: Settings, pg: asyncpg.Pool
) -> None:
    client: TestClient = await aiohttp_client(make_app(settings))
    key = await new_key(pg, "a@example.com", plan="pro")
    not_found = await client.get("/api/v1/missing", headers=bearer(key))
    assert not_found.status == 404
    assert await not_found.json() == {"detail": "no conversation 5"}
    assert not_found.headers["X-RateLimit-Remaining"] == "299"
    with structlog.testing.capture_logs() as logs:
        failed = await client.get("/api/v1/boom", headers=bearer(key))
    assert failed.status == 500
    assert "secret" not in await failed.text()
    assert failed.headers["X-Request-ID"] in (await failed.json())["detail"]
    failures = [entry for entry in logs if entry["event"] == "request_failed"]
    assert len(failures) == 1 and failures[0]["exc_info"] is True  # once, with its traceback
    assert failed.headers["X-RateLimit-Limit"] == "300"
    assert failed.headers["X-RateLimit-Remaining"] == "298"


async def test_keys_and_accounts_do_not_share_budgets(
    aiohttp_client: AiohttpClient, settings: Settings, pg: asyncpg.Pool
) -> None:
    client: TestClient = await aiohttp_client(make_app(settings))
    account_id = await insert_account(pg, "a@example.com", "free")
    first, _ = await make_key(pg, account_id, ["read"], 2)
    second, _ = await make_key(pg, account_id, ["read"], 2)
    other = await new_key(pg, "b@example.com", override=2)
    statuses = [(await client.get("/api/v1/ping", headers=bearer(first))).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    for key in (second, other):
        reply = await client.get("/api/v1/ping", headers=bearer(key))
        assert reply.status == 200 and reply.headers["X-RateLimit-Remaining"] == "1"


async def test_plan_and_default_plan_limits(
    aiohttp_client: AiohttpClient, settings: Settings, pg: asyncpg.Pool
) -> None:
    custom = msgspec.structs.replace(settings, plans={"free": 60, "agency": 1000})
    client: TestClient = await aiohttp_client(make_app(custom))
    agency = await new_key(pg, "a@example.com", plan="agency")
    unknown_plan = await new_key(pg, "b@example.com", plan="legacy")
    reply = await client.get("/api/v1/ping", headers=bearer(agency))
    assert reply.headers["RateLimit-Policy"] == '"default";q=1000;w=60'
    reply = await client.get("/api/v1/ping", headers=bearer(unknown_plan))
    assert reply.headers["X-RateLimit-Limit"] == "60"


async def test_requests_without_a_valid_key_are_limited_per_ip(
    aiohttp_client: AiohttpClient, settings: Settings, pg: asyncpg.Pool
) -> None:
    client: TestClient = await aiohttp_client(
        make_app(msgspec.structs.replace(settings, ip_rate_limit_per_min=3))
    )
    good = await new_key(pg, "a@example.com")
    # Subscribing clears the key cache (messages may have been missed): wait for it, or that
    # clear can land after the next request and empty the cache the flood must not get past.
    cache = client.app[key_cache_key]

    async def subscribed() -> bool:
        return cache.healthy

    await eventually(subscribed, 10, "the key-change subscription")
    assert (await client.get("/api/v1/ping", headers=bearer(good))).status == 200  # cached before the flood
    attempts = [{}, bearer("nonsense"), bearer("rr_live_" + "x" * 40)]
    for expected in (2, 1, 0):
        reply = await client.get("/api/v1/ping", headers=attempts[expected])
        assert reply.status == 401
        assert reply.headers["RateLimit"].startswith(f'"ip";r={expected};t=')
        assert reply.headers["X-RateLimit-Limit"] == "3"
    blocked = await client.get("/api/v1/ping", headers=bearer("rr_live_" + "y" * 40))
    assert blocked.status == 429
    retry = int(blocked.headers["Retry-After"])
    assert (await blocked.json())["detail"] == (
        "Rate limit exceeded from this IP address without a valid API key: at most 3 requests in any 60 s. "
        f"Retry after {retry} s."
    )
    still_good = await client.get("/api/v1/ping", headers=bearer(good))
    assert still_good.status == 200 and still_good.headers["RateLimit-Policy"] == '"default";q=60;w=60'


async def until_subscribed(client: TestClient) -> None:
    """Subscribing clears the key cache (messages may have been missed): wait for it, or that
    clear can land mid-test and send a cached key back to Postgres."""
    cache = client.app[key_cache_key]

    async def subscribed() -> bool:
        return cache.healthy

    await eventually(subscribed, 10, "the key-change subscription")


async def test_a_valid_key_is_judged_by_its_own_budget_even_from_a_flooded_ip(
    aiohttp_client: AiohttpClient, settings: Settings, pg: asyncpg.Pool
) -> None:
    client: TestClient = await aiohttp_client(
        make_app(msgspec.structs.replace(settings, ip_rate_limit_per_min=3))
    )
    await until_subscribed(client)
    flood = [(await client.get("/api/v1/ping", headers=bearer(f"rr_live_{i:040d}"))).status for i in range(8)]
    assert flood == [401] * 3 + [429] * 5  # the IP is over its budget
    good = await new_key(pg, "a@example.com")  # never seen by this process: its cache entry is cold
    cache = client.app[key_cache_key]
    for n in range(4):
        cache.clear()  # cold again: every request below looks the key up in Postgres
        reply = await client.get("/api/v1/ping", headers=bearer(good))
        assert reply.status == 200, await reply.text()
        assert reply.headers["RateLimit-Policy"] == '"default";q=60;w=60'  # its own budget, not the IP's
        assert reply.headers["X-RateLimit-Remaining"] == str(59 - n)
        bad = await client.get("/api/v1/ping", headers=bearer(f"rr_live_{n:039d}x"))  # the flood goes on
        assert bad.status == 429 and bad.headers["RateLimit-Policy"] == '"ip";q=3;w=60'


async def test_a_bad_key_flood_costs_one_indexed_lookup_per_distinct_well_formed_key(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    app = make_app(msgspec.structs.replace(settings, ip_rate_limit_per_min=5))
    client: TestClient = await aiohttp_client(app)
    await until_subscribed(client)
    statuses = [
        (await client.get("/api/v1/ping", headers=bearer(f"rr_live_{i:040d}"))).status for i in range(30)
    ]
    assert statuses == [401] * 5 + [429] * 25

    def lookups() -> int:
        return len([query for query in app[queries_key] if "key_hash" in query])

    assert lookups() == 30  # one per distinct well-formed key, then its 401 or 429 (deliberate)
    for _ in range(20):  # a repeated unknown key is answered from the negative cache
        assert (await client.get("/api/v1/ping", headers=bearer(f"rr_live_{0:040d}"))).status == 429
    for junk in ("rr_live_short", "sk_live_" + "x" * 40, "rr_live_" + "!" * 40):  # shape check: no lookup
        assert (await client.get("/api/v1/ping", headers=bearer(junk))).status == 429
    assert lookups() == 30


async def test_api_keeps_serving_when_redis_is_down(
    aiohttp_client: AiohttpClient, settings: Settings, pg: asyncpg.Pool
) -> None:
    broken = msgspec.structs.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client: TestClient = await aiohttp_client(make_app(broken))
    key = await new_key(pg, "a@example.com", override=3)
    replies = [await client.get("/api/v1/ping", headers=bearer(key)) for _ in range(4)]
    assert [r.status for r in replies] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in replies] == ["2", "1", "0", "0"]
    limiter = client.server.app[limiter_key]
    assert limiter.fallback_count == 4  # every decision; the key's lookup touched no IP budget
