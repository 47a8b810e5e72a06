"""Run an aiohttp app: uvloop, the edge's server (shared/http_server.py), optional N processes
sharing one port via SO_REUSEPORT, and a graceful stop on SIGTERM/SIGINT (docs/RELIABILITY.md,
"Graceful shutdown")."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable

import structlog
from aiohttp import web

from shared.config import Settings
from shared.http_server import EdgeAppRunner
from shared.web import settings_key

log = structlog.get_logger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# A child still running this long after its own shutdown bound is stuck: the parent kills it, so
# the whole service exits in bounded time even then.
CHILD_KILL_GRACE_S = 3.0
REAP_EVERY_S = 0.1


def install_uvloop() -> None:
    """uvloop where available: measurably more requests per core (bench/)."""
    if sys.platform != "win32":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def run_app(
    make_app: Callable[[], web.Application],
    host: str,
    port: int,
    processes: int,
    shutdown_timeout_s: float | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT, then drain and exit; with processes > 1 the kernel spreads
    connections, and this parent forwards the signal and waits for its children.

    The app's Settings (settings_key; the defaults without) give the edge's limits and deadlines;
    shutdown_timeout_s (the settings' default without) bounds the parent's wait.
    """
    install_uvloop()
    if processes <= 1:
        _run(make_app(), host, port, reuse_port=False)
        return
    bound_s = Settings().shutdown_timeout_s if shutdown_timeout_s is None else shutdown_timeout_s
    children: list[int] = []
    # Installed before forking, so a SIGTERM that arrives while children start is not lost.
    stop = _forward_stop_signals(children, bound_s + CHILD_KILL_GRACE_S)
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            for signum in STOP_SIGNALS:  # the child's loop installs its own handlers
                signal.signal(signum, signal.SIG_DFL)
            _run(make_app(), host, port, reuse_port=True)
            sys.stdout.flush()  # os._exit skips it, and the last log lines with it
            os._exit(0)
        children.append(pid)
    sys.exit(_wait_for_children(children, stop))


def _run(app: web.Application, host: str, port: int, reuse_port: bool) -> None:
    """What web.run_app does, with our runner (web.run_app takes no protocol class)."""
    asyncio.run(_serve(app, host, port, reuse_port))


async def _serve(app: web.Application, host: str, port: int, reuse_port: bool) -> None:
    """Serve until a stop signal; then stop accepting, give in-flight requests shutdown_timeout_s
    (then cancel them), and run the app's cleanup (pools, queue) after the last one."""
    settings = app.get(settings_key) or Settings()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stopping.set)
    runner = EdgeAppRunner(app, settings, shutdown_timeout=settings.shutdown_timeout_s)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port).start()
        await stopping.wait()
        log.info("shutting_down", pid=os.getpid(), timeout_s=settings.shutdown_timeout_s)
    finally:
        # Closes the listening socket first: a new connection is refused, never half-served.
        await runner.cleanup()
    log.info("shut_down", pid=os.getpid())


class _Stop:
    """When the parent gives up on its children; set by the first stop signal."""

    def __init__(self) -> None:
        self.kill_at: float | None = None


def _forward_stop_signals(children: list[int], bound_s: float) -> _Stop:
    """On SIGTERM/SIGINT, pass SIGTERM to every child and start the parent's clock."""
    stop = _Stop()

    def forward(_signum: int, _frame: object) -> None:
        if stop.kill_at is None:
            stop.kill_at = time.monotonic() + bound_s
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    for signum in STOP_SIGNALS:
        signal.signal(signum, forward)
    return stop


def _wait_for_children(children: list[int], stop: _Stop) -> int:
    """Reap every child; SIGKILL those still running past the bound. 0 if all exited 0."""
    running = set(children)
    failed = False
    while running:
        for pid in list(running):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                running.discard(pid)
                failed |= os.waitstatus_to_exitcode(status) != 0
        if running and stop.kill_at is not None and time.monotonic() > stop.kill_at:
            log.error("children_killed_after_shutdown_timeout", pids=sorted(running))
            for pid in running:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            stop.kill_at = None  # reaped on the next turns
        time.sleep(REAP_EVERY_S)
    return 1 if failed else 0
