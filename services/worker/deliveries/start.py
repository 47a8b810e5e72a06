"""Open webhooks out in a worker process: the HTTP client and the dispatcher's background task."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.worker.deliveries import dispatcher
from services.worker.deliveries.send import client_session
from services.worker.deliveries.state import DELIVERIES_CTX, Deliveries
from shared.config import Settings


async def open_deliveries(ctx: dict[str, Any], settings: Settings, pool: asyncpg.Pool) -> None:
    """Put a Deliveries into ctx for the jobs and start dispatching with arq's Redis client."""
    deliveries = Deliveries(settings, pool, client_session(settings))
    await deliveries.resources.enter_async_context(dispatcher.running(deliveries, ctx["redis"]))
    ctx[DELIVERIES_CTX] = deliveries
