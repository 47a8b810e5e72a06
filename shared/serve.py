"""Run an aiohttp app: uvloop, optional N processes sharing one port via SO_REUSEPORT."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable

import structlog
from aiohttp import web

log = structlog.get_logger(__name__)


def install_uvloop() -> None:
    """uvloop where available: measurably more requests per core (bench/)."""
    if sys.platform != "win32":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def run_app(make_app: Callable[[], web.Application], host: str, port: int, processes: int) -> None:
    """Serve until SIGTERM/SIGINT; with processes > 1 the kernel spreads connections."""
    install_uvloop()
    if processes <= 1:
        web.run_app(make_app(), host=host, port=port, access_log=None, print=None)
        return
    children: list[int] = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            web.run_app(make_app(), host=host, port=port, access_log=None, print=None, reuse_port=True)
            os._exit(0)
        children.append(pid)
    _supervise(children)


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
