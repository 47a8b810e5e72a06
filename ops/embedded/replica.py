"""A streaming replica of a running embedded primary: the embedded server's own pg_basebackup.

`pg_basebackup -R -X stream` copies the primary's cluster while it runs and writes
`standby.signal` plus `primary_conninfo`, so the copy starts as a hot standby that streams WAL
from the primary. The tests (tests/api/test_read_replica.py) and bench/replica_lag.py use it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ops.embedded.postgres import _open_path_for, _pg_bin, _system_user, managed_postgres
from ops.embedded.process import ManagedServer, user_ids

BASEBACKUP_TIMEOUT_S = 120


class ReplicaSetupError(RuntimeError):
    """pg_basebackup could not copy the primary."""


def _base_backup(primary: ManagedServer, pgdata: Path, user: str | None) -> None:
    """Copy the running primary into pgdata, written by the user postgres runs as."""
    shutil.rmtree(pgdata, ignore_errors=True)
    pgdata.mkdir(mode=0o700)
    if user:
        _open_path_for(user, pgdata)  # postgres refuses a data directory it does not own
    uid, gid, groups = user_ids(user)
    backup = subprocess.run(  # noqa: S603 - fixed argv of the embedded binary
        [
            _pg_bin("pg_basebackup"),
            *("-h", primary.host, "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(pgdata)),
            "-R",  # standby.signal + primary_conninfo: start as a standby of this primary
            *("-X", "stream"),  # the WAL written during the copy comes along, so the copy is consistent
            *("-c", "fast"),  # checkpoint now instead of waiting for the next one
            "--no-password",
        ],
        check=False,
        capture_output=True,
        timeout=BASEBACKUP_TIMEOUT_S,
        user=uid,
        group=gid,
        extra_groups=groups,
    )
    if backup.returncode != 0:
        why = backup.stderr.decode(errors="replace").strip()
        raise ReplicaSetupError(f"pg_basebackup of {primary.url} failed ({backup.returncode}): {why}")


def replica_server(
    primary: ManagedServer,
    root: Path,
    port: int | None = None,
    *,
    durable: bool = True,
    host: str = "127.0.0.1",
) -> ManagedServer:
    """A hot standby of the running `primary`, its cluster in root/replica (copied afresh each call).

    The primary must accept replication connections from loopback, as an embedded one does
    (initdb's default pg_hba.conf with --auth=trust, wal_level=replica). Start it with start();
    it answers read-only queries and follows the primary until stopped.
    """
    root.mkdir(parents=True, exist_ok=True)
    pgdata = root / "replica"
    user = _system_user()
    _base_backup(primary, pgdata, user)
    # hot_standby is on by default: the standby answers reads while it replays.
    return managed_postgres(
        "postgres-replica", pgdata, root / "replica.log", host, port, user, durable=durable
    )
