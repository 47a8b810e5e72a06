"""The embedded Sentinel group: a primary, a replica in sync, sentinels that found each other and
rewrite their own config files; a killed primary is replaced and, restarted, rejoins as a replica."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from ops.embedded.sentinel import sentinel_group


def _role(port: int) -> str:
    client = redis.Redis(port=port, socket_timeout=1)
    try:
        return str(client.role()[0], "ascii")
    finally:
        client.close()


@pytest.mark.slow
def test_a_group_starts_in_sync_and_fails_over(tmp_path: Path) -> None:
    group = sentinel_group(tmp_path, replicas=1, sentinels=3)
    group.start()
    try:
        primary, replica = group.nodes
        assert group.primary() is primary
        assert group.replicas_online()
        assert (_role(primary.port), _role(replica.port)) == ("master", "slave")
        for sentinel in group.sentinels:  # each learnt its peers and wrote them into its file
            config = Path(sentinel.command[1]).read_text()
            assert config.count("sentinel known-sentinel") == 2
            assert "sentinel known-replica" in config
        primary.kill()
        group.wait_until(lambda: group.primary() is replica, 30, "the replica to be promoted")
        primary.start()
        group.wait_until(lambda: _role(primary.port) == "slave", 60, "the old primary to rejoin")
        group.wait_until(group.replicas_online, 30, "the old primary to be in sync")
    finally:
        group.stop()
