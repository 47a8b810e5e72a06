"""Where Postgres and Redis are: the configured URLs, a running `ringready up`, or embedded ones."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import msgspec

from ops.embedded.postgres import postgres_server
from ops.embedded.process import ManagedServer, port_open
from ops.embedded.valkey import valkey_server
from shared.config import Settings

STATE_FILE = "servers.json"


class ServerState(msgspec.Struct, frozen=True):
    """What `ringready up` started, so admin commands in another terminal can find it."""

    supervisor_pid: int
    database_url: str
    redis_url: str
    postgres_port: int
    redis_port: int


def state_path(settings: Settings) -> Path:
    """servers.json under the data dir."""
    return Path(settings.data_dir) / STATE_FILE


def write_state(settings: Settings, state: ServerState) -> None:
    """Record the running servers."""
    state_path(settings).write_bytes(msgspec.json.encode(state))


def record_state(live: Settings, servers: list[ManagedServer]) -> None:
    """Record this process as the supervisor of the given servers, at live's URLs."""
    ports = {server.name: server.port for server in servers}
    write_state(
        live,
        ServerState(
            supervisor_pid=os.getpid(),
            database_url=live.database_url,
            redis_url=live.redis_url,
            postgres_port=ports.get("postgres", 0),
            redis_port=ports.get("valkey", 0),
        ),
    )


def running_state(settings: Settings) -> ServerState | None:
    """The state of a live `ringready up`, or None."""
    path = state_path(settings)
    try:
        state = msgspec.json.decode(path.read_bytes(), type=ServerState)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    try:
        os.kill(state.supervisor_pid, 0)
    except OSError:
        return None
    if not port_open("127.0.0.1", state.postgres_port):
        return None
    return state


def embedded_servers(settings: Settings, *, durable: bool) -> list[ManagedServer]:
    """The embedded servers this configuration needs (none when both URLs are set)."""
    root = Path(settings.data_dir).resolve()
    servers = []
    if not settings.database_url:
        servers.append(postgres_server(root, durable=durable))
    if not settings.redis_url:
        servers.append(valkey_server(root))
    return servers


def with_urls(settings: Settings, servers: list[ManagedServer]) -> Settings:
    """Settings pointing at the given servers."""
    urls = {}
    for server in servers:
        urls["database_url" if server.name == "postgres" else "redis_url"] = server.url
    return msgspec.structs.replace(settings, **urls)


@contextlib.contextmanager
def resolved(settings: Settings) -> Iterator[Settings]:
    """Settings with both URLs filled: given, from a running `up`, or embedded for this command."""
    if settings.database_url and settings.redis_url:
        yield settings
        return
    state = running_state(settings)
    if state is not None:
        yield msgspec.structs.replace(
            settings,
            database_url=settings.database_url or state.database_url,
            redis_url=settings.redis_url or state.redis_url,
        )
        return
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    servers = embedded_servers(settings, durable=True)
    try:
        for server in servers:
            server.start()
        yield with_urls(settings, servers)
    finally:
        for server in reversed(servers):
            server.stop()
