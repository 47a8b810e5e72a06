"""create_app for the Developer API: wiring only."""

from __future__ import annotations

from aiohttp import web

from services.api import agents, conversations, discovery, sync, whoami
from services.api.access.contexts import key_cache_ctx, limiter_ctx, redis_pipe_ctx
from services.api.access.gate import access_middleware
from services.api.access.limiter import DECISIONS
from services.api.export.budget import export_budget_ctx
from services.api.export.handler import export_handler
from services.api.health import add_api_health_routes
from services.api.reads import read_replica_ctx
from services.api.webhooks.routes import add_webhook_routes
from shared.config import Settings
from shared.metrics.exposition import add_metrics_route
from shared.metrics.pool import counts_reader, read_pool, refreshing
from shared.metrics.series import RATE_LIMIT_DECISIONS
from shared.middleware import request_middleware
from shared.web import settings_key, statements_ctx

# What /metrics reports besides the registry, refreshed every few seconds too (shared/metrics/pool.py).
METRICS_READERS = (read_pool, counts_reader(RATE_LIMIT_DECISIONS, DECISIONS))


def add_api_routes(app: web.Application) -> None:
    """Every /api/v1 route, plus /llms.txt."""
    router = app.router
    router.add_get("/api/v1/whoami", whoami.whoami)
    router.add_get("/api/v1/conversations", conversations.list_handler)
    router.add_get("/api/v1/conversations/sync", sync.sync_handler)  # before {id}, which would 404 it
    router.add_get("/api/v1/conversations/export", export_handler)  # before {id}, which it would match
    router.add_get("/api/v1/conversations/{id}", conversations.detail_handler)
    router.add_get("/api/v1/agents", agents.list_handler)
    router.add_get("/api/v1/agents/{id}", agents.detail_handler)
    router.add_patch("/api/v1/agents/{id}", agents.patch_handler)
    router.add_get("/api/v1/openapi.json", discovery.openapi_handler)
    router.add_get("/llms.txt", discovery.llms_txt_handler)
    add_webhook_routes(app)


def create_app(settings: Settings) -> web.Application:
    """The API application; resources open in cleanup_ctx, no I/O here."""
    app = web.Application(
        middlewares=[request_middleware, access_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[settings_key] = settings
    app.cleanup_ctx.extend(
        [
            statements_ctx,
            read_replica_ctx,
            redis_pipe_ctx,
            key_cache_ctx,
            limiter_ctx,
            export_budget_ctx,
            refreshing(*METRICS_READERS),
        ]
    )
    add_api_health_routes(app)
    add_metrics_route(app, *METRICS_READERS)
    add_api_routes(app)
    return app
