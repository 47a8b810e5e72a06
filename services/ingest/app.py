"""create_app for the ingest service: wiring only."""

from __future__ import annotations

from aiohttp import web

from services.ingest.enqueue import queue_ctx
from services.ingest.handlers import add_routes
from shared.config import Settings
from shared.metrics.exposition import add_metrics_route
from shared.metrics.queue import read_queue
from shared.middleware import request_middleware
from shared.web import add_health_routes, lazy_pg_ctx, redis_ctx, settings_key


def create_app(settings: Settings) -> web.Application:
    """The ingest application; resources open in cleanup_ctx, no I/O here (Redis may be down)."""
    app = web.Application(middlewares=[request_middleware], client_max_size=settings.max_body_bytes)
    app[settings_key] = settings
    app.cleanup_ctx.extend([lazy_pg_ctx, redis_ctx, queue_ctx])
    add_health_routes(app, required=("redis",))
    add_metrics_route(app, read_queue)
    add_routes(app)
    return app
