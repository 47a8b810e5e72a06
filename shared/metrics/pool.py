"""What the API keeps per process and reports at each scrape and every few seconds (so that with
several processes the merge has every process's recent values, not only the scraped one's): its
Postgres connections, and counts its hot path keeps as plain integers (rate-limit decisions)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import TypeVar

from aiohttp import web
from prometheus_client import Counter
from prometheus_client.core import Metric

from shared.metrics.exposition import ScrapeReader
from shared.metrics.series import PG_POOL
from shared.web import statements_key

REFRESH_S = 5.0
Labels = TypeVar("Labels", bound=tuple[str, ...])


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


def counts_reader(counter: Counter, counts: Mapping[Labels, int]) -> ScrapeReader:
    """A reader that adds what `counts` (labels -> running total) gained since its last call to
    `counter`; make one per counts mapping and process (the apps of a process share it)."""
    added: dict[Labels, int] = {}

    async def read(app: web.Application) -> Iterable[Metric]:
        for labels, total in list(counts.items()):
            gained = total - added.get(labels, 0)
            if gained:
                counter.labels(*labels).inc(gained)
                added[labels] = total
        return []

    return read


def refreshing(*readers: ScrapeReader) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that runs the readers every REFRESH_S while the app runs."""

    async def refresh_ctx(app: web.Application) -> AsyncIterator[None]:
        async def refresh() -> None:
            while True:
                for reader in readers:
                    await reader(app)
                await asyncio.sleep(REFRESH_S)

        task = asyncio.create_task(refresh())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return refresh_ctx
