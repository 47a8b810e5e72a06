"""Embedded PostgreSQL and Valkey: real servers from PyPI wheels, run as child processes.

`process` runs and stops one server, `postgres` and `valkey` build theirs, `replica` makes a
streaming replica of a running embedded Postgres, `stack` finds the
servers a command should use (configured, a running `ringready up`, or embedded ones).

The names below are imported on first use: `ops.embedded.process` alone (what the runner needs)
must not load the Valkey client, a third of `ringready --help`'s start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ops.embedded.postgres import pgbench_path, postgres_server
    from ops.embedded.process import (
        ManagedServer,
        die_with_parent,
        free_port,
        killed_with_parent,
        port_open,
        stop_fast_with_parent,
    )
    from ops.embedded.replica import replica_server
    from ops.embedded.valkey import valkey_server

_HOMES = {
    "pgbench_path": "postgres",
    "postgres_server": "postgres",
    "ManagedServer": "process",
    "die_with_parent": "process",
    "free_port": "process",
    "killed_with_parent": "process",
    "port_open": "process",
    "replica_server": "replica",
    "stop_fast_with_parent": "process",
    "valkey_server": "valkey",
}

__all__ = [
    "ManagedServer",
    "die_with_parent",
    "free_port",
    "killed_with_parent",
    "pgbench_path",
    "port_open",
    "postgres_server",
    "replica_server",
    "stop_fast_with_parent",
    "valkey_server",
]


def __getattr__(name: str) -> Any:
    """`from ops.embedded import free_port` works as before, importing only the module that has it."""
    if name not in _HOMES:
        raise AttributeError(f"module 'ops.embedded' has no attribute {name!r}")
    return getattr(importlib.import_module(f"ops.embedded.{_HOMES[name]}"), name)
