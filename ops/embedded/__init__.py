"""Embedded PostgreSQL and Valkey: real servers from PyPI wheels, run as child processes.

`process` runs and stops one server, `postgres` and `valkey` build theirs, `stack` finds the
servers a command should use (configured, a running `ringready up`, or embedded ones).
"""

from ops.embedded.postgres import pgbench_path, postgres_server
from ops.embedded.process import (
    ManagedServer,
    die_with_parent,
    free_port,
    killed_with_parent,
    port_open,
    stop_fast_with_parent,
)
from ops.embedded.valkey import valkey_server

__all__ = [
    "ManagedServer",
    "die_with_parent",
    "free_port",
    "killed_with_parent",
    "pgbench_path",
    "port_open",
    "postgres_server",
    "stop_fast_with_parent",
    "valkey_server",
]
