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
        _run(make_app(), host, port, reuse_port=False)
        return
    children: list[int] = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            _run(make_app(), host, port, reuse_port=True)
            os._exit(0)
        children.append(pid)
    _supervise(children)


def _run(app: web.Application, host: str, port: int, reuse_port: bool) -> None:
    """What web.run_app does, with our runner (web.run_app takes no protocol class): the runner
    turns SIGTERM/SIGINT into GracefulExit, which ends the loop; _serve's cleanup then runs as the
    loop cancels it (in-flight requests get the runner's 60 s)."""
    with contextlib.suppress(web.GracefulExit):
        asyncio.run(_serve(app, host, port, reuse_port))


async def _serve(app: web.Application, host: str, port: int, reuse_port: bool) -> None:
    """Start the app (signal handlers first, as web.run_app does) and serve until cancelled."""
    runner = EdgeAppRunner(app, app.get(settings_key) or Settings(), handle_signals=True)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port).start()
        await asyncio.Future()  # until a signal's GracefulExit stops the loop
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
