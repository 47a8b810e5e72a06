"""Helpers shared by tests: server handles and constants."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import asyncpg

from ops.embedded import ManagedServer

# A Standard Webhooks secret for tests (base64 of 24 bytes, with the whsec_ prefix).
TEST_WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TEST_VAPI_SECRET = "vapi-test-secret-token"
TEST_VAPI_HMAC_SECRET = "vapi-test-hmac-secret"
TEST_RETELL_API_KEY = "key_test_retell_webhook_badge"
TEST_ELEVENLABS_SECRET = "wsec_test_elevenlabs"
REPO_ROOT = Path(__file__).resolve().parent.parent
# Test data written for this repo: provider webhook samples, test vectors, documented value lists.
FIXTURES = REPO_ROOT / "tests" / "fixtures"
T = TypeVar("T")


@dataclass
class Servers:
    """The session's real Postgres and Redis; `postgres`/`redis` are None when external."""

    database_url: str
    redis_url: str
    root: Path
    postgres: ManagedServer | None
    redis: ManagedServer | None


async def create_database(admin_url: str, prefix: str) -> tuple[str, str]:
    """A new empty database on admin_url's server: its name and URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


async def eventually(
    condition: Callable[[], Awaitable[T | None]],
    within_s: float,
    what: str | Callable[[], str],
    *,
    every_s: float = 0.05,
    retrying: tuple[type[Exception], ...] = (),
) -> T:
    """Poll a condition until it returns something truthy, and return that; fail naming what did not
    happen (`what` may be a function, so the message can show the state at the deadline).

    An exception in `retrying` counts as "not yet"; when time runs out on one, it is raised as is.
    """
    deadline = time.monotonic() + within_s
    while True:
        try:
            if result := await condition():
                return result
        except retrying:
            if time.monotonic() >= deadline:
                raise
        if time.monotonic() >= deadline:
            described = what if isinstance(what, str) else what()
            raise AssertionError(f"timed out after {within_s:g} s waiting for {described}")
        await asyncio.sleep(every_s)
