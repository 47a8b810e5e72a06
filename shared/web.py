"""aiohttp pieces both HTTP services use: app keys, resource contexts, JSON and health handlers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import redis.asyncio as aioredis
from aiohttp import web

from shared.config import Settings
from shared.db.pool import create_pool, create_statement_pool
from shared.db.statement_pool import Queryable, StatementPool
from shared.redis_pipe import RedisPipe, pack_command, pipe_for
from shared.redis_sentinel import sentinel_client

settings_key = web.AppKey("settings", Settings)
statements_key = web.AppKey("statements", StatementPool)  # the API's connections (one statement each)
# What /readyz asks for SELECT 1: set by whichever of the contexts below a service uses.
postgres_key: web.AppKey[Queryable] = web.AppKey("postgres")
# What /readyz PINGs: a pipe the service already has (the API's limiter's), else redis_ctx's.
redis_key = web.AppKey("redis", RedisPipe)
# Which dependencies /readyz requires; the others are reported but don't fail readiness.
required_deps_key = web.AppKey("required_deps", tuple)
# The ingest's queue writer (services/ingest/enqueue.py).
queue_key = web.AppKey("queue", RedisPipe)

request_id_key = web.RequestKey("request_id", str)
# Headers that every response to this request carries, an error's too (the API's rate-limit state).
response_headers_key = web.RequestKey("response_headers", dict[str, str])

JSON = "application/json"
_encoder = msgspec.json.Encoder()
READY_TIMEOUT_S = 1.0
PING = pack_command(b"PING")


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Encode a Struct (or plain data) with msgspec into a JSON response."""
    return web.Response(body=_encoder.encode(payload), status=status, content_type=JSON, headers=headers)


async def pg_ctx(app: web.Application) -> AsyncIterator[None]:
    """The process's asyncpg pool."""
    pool = await create_pool(app[settings_key])
    app[postgres_key] = pool
    yield
    await pool.close()


async def statements_ctx(app: web.Application) -> AsyncIterator[None]:
    """The process's StatementPool, for a service that runs only single statements (the API)."""
    pool = await create_statement_pool(app[settings_key])
    app[statements_key] = app[postgres_key] = pool
    yield
    await pool.close()


async def lazy_pg_ctx(app: web.Application) -> AsyncIterator[None]:
    """A one-connection pool that connects on first use: ingest must start while Postgres is down."""
    pool = await create_pool(app[settings_key], min_size=0, max_size=1)
    app[postgres_key] = pool
    yield
    await pool.close()


def redis_client(settings: Settings, **overrides: Any) -> aioredis.Redis:
    """A redis.asyncio client for settings.redis_url, or for the primary the sentinels name
    (hiredis parses replies when installed)."""
    options: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 5, "health_check_interval": 30}
    options.update(overrides)
    if settings.redis_sentinels:
        return sentinel_client(settings, options)
    client: aioredis.Redis = aioredis.Redis.from_url(settings.redis_url, **options)
    return client


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    """A pipelined Redis connection for /readyz, opened on its first PING."""
    pipe = pipe_for(app[settings_key], timeout_s=READY_TIMEOUT_S)
    app[redis_key] = pipe
    yield
    await pipe.aclose()


async def _check(name: str, probe: Any) -> tuple[str, str]:
    try:
        await asyncio.wait_for(probe(), READY_TIMEOUT_S)
    except Exception:  # any failure means "not ready"
        return name, "down"
    return name, "ok"


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and its event loop answers."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Postgres and Redis answer; 503 naming the required one that doesn't."""
    app = request.app
    results = dict(
        await asyncio.gather(
            _check("postgres", lambda: app[postgres_key].fetchval("SELECT 1")),
            _check("redis", lambda: app[redis_key].call(PING)),
        )
    )
    down = [name for name in app[required_deps_key] if results[name] != "ok"]
    if down:
        return json_response({"detail": f"{', '.join(down)} unavailable", **results}, status=503)
    return json_response({"status": "ok", **results})


def add_health_routes(app: web.Application, required: tuple[str, ...]) -> None:
    """Register /healthz and /readyz."""
    app[required_deps_key] = required
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
