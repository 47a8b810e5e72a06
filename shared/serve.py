"""Run an aiohttp app: uvloop, the edge's server (shared/http_server.py), optional N processes
sharing one port via SO_REUSEPORT."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable

import structlog
from aiohttp import web

from shared.config import Settings
from shared.http_server import EdgeAppRunner
from shared.web import settings_key

log = structlog.get_logger(__name__)


def install_uvloop() -> None:
    """uvloop where available: measurably more requests per core (bench/)."""
    if sys.platform != "win32":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def run_app(make_app: Callable[[], web.Application], host: str, port: int, processes: int) -> None:
    """Serve until SIGTERM/SIGINT; with processes > 1 the kernel spreads connections.

    The app's Settings (settings_key; the defaults without) give the edge's limits and deadlines.
    """
    install_uvloop()
    if processes <= 1:
        asyncio.run(_serve(make_app(), host, port, reuse_port=False))
        return
    children: list[int] = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            asyncio.run(_serve(make_app(), host, port, reuse_port=True))
            os._exit(0)
        children.append(pid)
    _supervise(children)


async def _serve(app: web.Application, host: str, port: int, reuse_port: bool) -> None:
    """web.run_app's work with our runner (aiohttp's takes no protocol class): start, wait for a
    signal, then shut down gracefully (in-flight requests get the runner's 60 s)."""
    runner = EdgeAppRunner(app, app.get(settings_key) or Settings())
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port).start()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        await stopping.wait()
    finally:
        await runner.cleanup()


def _supervise(children: list[int]) -> None:
    """Forward SIGTERM/SIGINT to the children and wait for all of them."""

    def forward(signum: int, _frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for pid in children:
        os.waitpid(pid, 0)
