"""A real Sentinel group (a primary, one replica, three sentinels) for tests, and test settings
that point at it; each test module wraps these in its own fixtures."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import msgspec
import redis.asyncio as aioredis

from ops.embedded.sentinel import SentinelGroup, sentinel_group
from shared.config import Settings


@contextlib.contextmanager
def running_group(replicas: int = 1) -> Iterator[SentinelGroup]:
    """Started (replicas in sync, sentinels aware of each other), stopped on exit."""
    made = sentinel_group(Path(tempfile.mkdtemp(prefix="ringready-sentinel-")), replicas=replicas)
    made.start()
    try:
        yield made
    finally:
        made.stop()


def primary_port(group: SentinelGroup) -> int:
    """The port of the node the sentinels name as primary."""
    primary = group.primary()
    if primary is None:
        raise AssertionError("no sentinel names a primary")
    return primary.port


async def sentinel_settings(settings: Settings, group: SentinelGroup) -> Settings:
    """`settings` pointed at the group's sentinels (redis_url gives only the database), after
    emptying the primary."""
    primary = aioredis.Redis(port=primary_port(group))
    try:
        await primary.flushall()
    finally:
        await primary.aclose()
    return msgspec.structs.replace(
        settings, redis_url="redis://", redis_sentinels=tuple(group.sentinel_addresses.split(","))
    )
