"""GET /metrics for the HTTP services and the worker's own metrics server.

One process: the registry in `series` is rendered as is. Several processes sharing a port
(SO_REUSEPORT): each writes its values to files in one directory, and whichever process a scrape
reaches merges them all (prometheus_client's multiprocess mode), so every scrape reports the
whole service. Values read at scrape time (the queue) come from the app's scrape readers.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest, multiprocess, start_http_server, values
from prometheus_client.core import Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from shared.metrics.series import REGISTRY

log = structlog.get_logger(__name__)

# What a service reads at scrape time (the queue from Redis): metric families, fresh each scrape.
ScrapeReader = Callable[[web.Application], Awaitable[Iterable[Metric]]]
scrape_readers_key = web.AppKey("scrape_readers", list[ScrapeReader])
METRICS_PATH = "/metrics"
# prometheus_client finds the directory only in this variable (it reads it as each value is made).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_shared_dir: str | None = None


def share_between_processes() -> str:
    """Call once in the parent before it forks the processes that share a port: a fresh directory
    (so no stale process's counts are merged), removed when the parent exits (the children leave
    with os._exit, which skips atexit). Returns the directory."""
    global _shared_dir
    directory = tempfile.mkdtemp(prefix="ringready-metrics-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    # The one write to os.environ outside shared/config.py: prometheus_client has no other input.
    os.environ[MULTIPROC_ENV] = directory
    # It chose its value class on import, before this call; no value exists yet (every series
    # is labelled and none has been used), so switching it now puts every value in the files.
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]  # untyped upstream
    _shared_dir = directory
    log.info("metrics_shared_between_processes", directory=directory)
    return directory


def forget_this_process() -> None:
    """At a process's exit: drop its live gauges (pool use, limiter state) from the merge;
    its counters stay, as Prometheus expects of a counter."""
    if _shared_dir is not None:
        multiprocess.mark_process_dead(os.getpid(), _shared_dir)  # type: ignore[no-untyped-call]  # untyped upstream


class _Families:
    """A collector that yields families already read (a scrape's Redis reads are async)."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


async def render(app: web.Application) -> bytes:
    """The text exposition of the whole service, plus what the app reads at scrape time (first:
    a reader may also refresh this process's gauges)."""
    families: list[Metric] = []
    for reader in app.get(scrape_readers_key, []):
        families.extend(await reader(app))
    if _shared_dir is None:
        text = generate_latest(REGISTRY)
    else:
        merged = CollectorRegistry(auto_describe=True)
        multiprocess.MultiProcessCollector(merged, _shared_dir)  # type: ignore[no-untyped-call]  # untyped upstream
        text = generate_latest(merged)
    if families:
        scraped = CollectorRegistry(auto_describe=False)
        scraped.register(_Families(families))
        text += generate_latest(scraped)
    return text


async def metrics_handler(request: web.Request) -> web.Response:
    """GET /metrics: no key, no rate limit (gate.py lets every path outside /api/v1 through)."""
    return web.Response(body=await render(request.app), headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_metrics_route(app: web.Application, *readers: ScrapeReader) -> None:
    """Register GET /metrics and what it reads at scrape time; the process's live gauges are
    dropped from the merge when the app stops."""
    app[scrape_readers_key] = list(readers)
    app.router.add_get(METRICS_PATH, metrics_handler)
    app.cleanup_ctx.append(_forget_on_exit)


async def _forget_on_exit(app: web.Application) -> AsyncIterator[None]:
    yield
    forget_this_process()


def serve_in_thread(host: str, port: int) -> None:
    """GET /metrics for a process without an HTTP server of its own (the worker): prometheus_client's
    server on a daemon thread, so it answers while the event loop is busy and outlives the
    worker's restarts after a Redis loss. Single-process: it renders the registry as is."""
    start_http_server(port, host, registry=REGISTRY)
