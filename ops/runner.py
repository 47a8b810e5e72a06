"""The process runner: the three services as child processes, waited on until ready, stopped together.

ops/supervisor.py restarts the ones that crash.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from typing import IO

from ops.embedded.process import killed_with_parent
from shared.config import Settings

SERVICE_MODULES = {"api": "services.api", "ingest": "services.ingest", "worker": "services.worker"}


def child_env(settings: Settings) -> dict[str, str]:
    """The environment for a service: ours plus the resolved server URLs."""
    env = dict(os.environ)
    env["RINGREADY_DATABASE_URL"] = settings.database_url
    env["RINGREADY_REDIS_URL"] = settings.redis_url
    env["RINGREADY_WEBHOOK_SECRETS"] = ",".join(settings.webhook_secrets)
    return env


def start_service(name: str, settings: Settings, log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """One service as a child process in its own session, its output to log (or ours).

    It is killed if we die without stopping it.
    """
    return subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", SERVICE_MODULES[name]],
        env=child_env(settings),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
        preexec_fn=killed_with_parent,  # single-threaded at spawn time
    )


def wait_ready(urls: list[str], children: list[subprocess.Popen[bytes]], timeout: float) -> None:
    """Poll each /readyz until 200; fail early if a child exits."""
    deadline = time.monotonic() + timeout
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise RuntimeError("a service exited during start-up; see its log")
        try:
            with urllib.request.urlopen(pending[0], timeout=1) as reply:  # noqa: S310 - loopback
                if reply.status == 200:
                    pending.pop(0)
                    continue
        except OSError:
            pass
        time.sleep(0.2)
    if pending:
        raise RuntimeError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")


def stop_children(children: list[subprocess.Popen[bytes]], timeout: float = 30.0) -> None:
    """SIGTERM every child, then SIGKILL whatever is left after timeout."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
