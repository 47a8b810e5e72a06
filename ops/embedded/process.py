"""A server we run as a child process: start it, wait until it accepts work, stop or kill it.

Each server runs in the foreground as our child, so whoever started it can stop it, kill it
(fault tests) or restart it on the same data and port. Also the ports and the death signals
that keep a crashed parent from leaving orphans.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


def _set_death_signal(signum: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signum)


def die_with_parent() -> None:
    """preexec_fn: ask Linux to SIGTERM this child when its parent dies (no orphans)."""
    _set_death_signal(signal.SIGTERM)


def killed_with_parent() -> None:
    """preexec_fn: SIGKILL this child when its parent dies: a crashed supervisor's services go the
    way a crash takes them (what the system is built to survive), never lingering half shut down."""
    _set_death_signal(signal.SIGKILL)


def stop_fast_with_parent() -> None:
    """preexec_fn for Postgres: SIGINT (fast shutdown) when its parent dies. SIGTERM would be a
    *smart* shutdown, which waits for every client to disconnect first."""
    _set_death_signal(signal.SIGINT)


def _death_signal_for_this_thread(preexec: Callable[[], None]) -> Callable[[], None] | None:
    """PDEATHSIG fires when the spawning *thread* exits, so only the main thread may use it."""
    return preexec if threading.current_thread() is threading.main_thread() else None


@dataclass
class ManagedServer:
    """One server process we started; restartable on the same data and port."""

    name: str
    command: list[str]
    host: str
    port: int
    log_path: Path
    url: str
    user: str | None = None
    on_parent_death: Callable[[], None] = die_with_parent  # preexec_fn setting the death signal
    # Exits 0 once the server accepts work: Postgres opens its port before it accepts connections
    # (startup and crash recovery answer "the database system is starting up").
    ready_command: list[str] | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, timeout: float = 60.0) -> None:
        """Start the process and wait until its port answers."""
        if self.process is not None and self.process.poll() is None:
            return
        uid, gid, groups = user_ids(self.user)
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv of our own binaries
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                user=uid,
                group=gid,
                extra_groups=groups,
                start_new_session=True,  # a terminal's Ctrl-C reaches the supervisor, not us
                preexec_fn=_death_signal_for_this_thread(self.on_parent_death),
            )
        finally:
            log.close()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            if port_open(self.host, self.port) and self._accepts_work():
                return
            time.sleep(0.05)
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{self.name} did not start on {self.host}:{self.port}:\n{tail}")

    def _accepts_work(self) -> bool:
        if self.ready_command is None:
            return True
        probe = subprocess.run(self.ready_command, check=False, capture_output=True)  # noqa: S603 - our binary
        return probe.returncode == 0

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs."""
        if self.process is None or self.process.poll() is not None:
            return None
        return self.process.pid

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful stop (SIGTERM), escalating to SIGKILL after timeout."""
        self._signal_and_wait(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash would (fault tests)."""
        self._signal_and_wait(signal.SIGKILL, 10.0)

    def _signal_and_wait(self, signum: int, timeout: float) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        # Postgres leaves backends behind for a moment after a SIGKILL of the postmaster.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


def user_ids(user: str | None) -> tuple[int | None, int | None, list[int] | None]:
    """uid, gid and groups that drop to `user`, its group included (root's gid would deny access)."""
    if user is None:
        return None, None, None
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid, []
