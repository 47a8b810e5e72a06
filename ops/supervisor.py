"""Keeps the three services running: a crashed one comes back with backoff until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ops.runner import SERVICE_MODULES, start_service
from shared.config import Settings

FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
# A service up this long counts as healthy again: its next crash restarts after FIRST_BACKOFF_S.
STABLE_AFTER_S = 30.0
POLL_S = 0.2


@dataclass
class Supervised:
    """One service: its current process, when that started, and when to start the next one."""

    name: str
    process: subprocess.Popen[bytes]
    started_at: float
    backoff_s: float = FIRST_BACKOFF_S
    restart_at: float | None = None


def exit_reason(code: int) -> str:
    """`exit code 1` or `killed by SIGKILL`, as an operator reads it."""
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def next_backoff(service: Supervised, now: float) -> float:
    """The delay before this restart; doubles per crash, back to the first after a stable run."""
    if now - service.started_at >= STABLE_AFTER_S:
        service.backoff_s = FIRST_BACKOFF_S
    delay = service.backoff_s
    service.backoff_s = min(service.backoff_s * 2, MAX_BACKOFF_S)
    return delay


class Supervisor:
    """Starts every service with its log file under log_dir and restarts whichever exits."""

    def __init__(self, settings: Settings, log_dir: Path, report: Callable[[str], None]) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.report = report
        self.services: list[Supervised] = []

    def start_all(self) -> None:
        """Every service, once; readiness is the caller's to wait for."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        now = time.monotonic()
        self.services = [Supervised(name, self._spawn(name), now) for name in SERVICE_MODULES]

    def processes(self) -> list[subprocess.Popen[bytes]]:
        """The current process of each service (an exited one until its restart)."""
        return [service.process for service in self.services]

    def check(self, now: float) -> None:
        """Notice exits, schedule their restarts, and perform the restarts that are due."""
        for service in self.services:
            if service.restart_at is not None:
                if now >= service.restart_at:
                    self._restart(service, now)
                continue
            code = service.process.poll()
            if code is None:
                continue
            delay = next_backoff(service, now)
            service.restart_at = now + delay
            self.report(f"{service.name} exited ({exit_reason(code)}); restarting in {delay:g}s")

    def run_forever(self) -> None:
        """Supervise until a signal handler raises out of the sleep."""
        while True:
            self.check(time.monotonic())
            time.sleep(POLL_S)

    def _restart(self, service: Supervised, now: float) -> None:
        service.process = self._spawn(service.name)
        service.started_at, service.restart_at = now, None
        self.report(f"{service.name} restarted (pid {service.process.pid})")

    def _spawn(self, name: str) -> subprocess.Popen[bytes]:
        with (self.log_dir / f"{name}.log").open("ab") as log:
            return start_service(name, self.settings, log)
