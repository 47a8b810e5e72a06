"""The API's Postgres connections as gauges: set at each scrape and every few seconds, so that
with several processes the merge has every process's recent count, not only the scraped one's."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable

from aiohttp import web
from prometheus_client.core import Metric

from shared.metrics.series import PG_POOL
from shared.web import statements_key

REFRESH_S = 5.0


def record_pool(app: web.Application) -> None:
    """This process's connections: size (configured), open, in use."""
    size, live, in_use = app[statements_key].usage()
    PG_POOL.labels("size").set(size)
    PG_POOL.labels("open").set(live)
    PG_POOL.labels("in_use").set(in_use)


async def read_pool(app: web.Application) -> Iterable[Metric]:
    """A scrape reader: the scraped process's gauges are fresh; they render with the registry."""
    record_pool(app)
    return []


async def pool_gauges_ctx(app: web.Application) -> AsyncIterator[None]:
    """Refresh the gauges every REFRESH_S while the app runs (after statements_ctx opened the pool)."""

    async def refresh() -> None:
        while True:
            record_pool(app)
            await asyncio.sleep(REFRESH_S)

    task = asyncio.create_task(refresh())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
