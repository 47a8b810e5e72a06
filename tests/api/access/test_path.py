"""How many modules an API key's request passes through, from the access middleware to its decision.

Issue #12's acceptance: the API-key path, from request to decision, touches at most 3 modules.
The test runs one authenticated request through the real app (real Postgres and Valkey) under
`sys.setprofile` and collects the project files (under services/ and shared/) whose Python code
is entered from the moment `access_middleware` is entered until the handler is called, i.e. until
the decision is made and obeyed (a coroutine resumed in between, such as the request middleware
that awaits this one, is not entered). It counts code run by the request's own task and by the event loop's
callbacks (the pipe's flush and its reply parsing), not by other tasks (the key-change listener
that happens to wake up meanwhile is not on the key's path).

Left out, and why: the RESP transport, `shared/redis_pipe.py` and `shared/redis_connection.py`.
They are a wire library shared with the ingest that knows nothing about keys or limits (in the
place redis-py would be); reading the key's path never needs them. Everything else counts:
`shared/keys.py` (the key's shape and hash) does. On a healthy Redis health.py does not run (the
limiter reads its state), and local.py runs only in the fallback.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from services.api.typedefs import key_cache_key
from shared.config import Settings
from tests.api.factories import make_tenant
from tests.helpers import REPO_ROOT, eventually

TRANSPORT = frozenset({"shared/redis_pipe.py", "shared/redis_connection.py"})
PROJECT = ("services/", "shared/")


class PathTrace:
    """Project files entered between the access middleware's entry and the handler's."""

    def __init__(self) -> None:
        self.modules: set[str] = set()
        self._task: asyncio.Task[Any] | None = None
        self._done = False
        self._outer: set[FrameType] = set()  # what awaits the middleware: resumed, not entered

    def __call__(self, frame: FrameType, event: str, arg: object) -> None:
        if event != "call" or self._done or frame in self._outer:
            return  # an outer coroutine resumed (the request middleware awaiting us): not entered
        name = frame.f_code.co_name
        if self._task is None:
            if name != "access_middleware":
                return
            self._task = asyncio.current_task()
            caller = frame.f_back
            while caller is not None:
                self._outer.add(caller)
                caller = caller.f_back
        if name == "whoami":  # the handler: the decision is made
            self._done = True
            return
        task = asyncio.current_task()
        if task is not None and task is not self._task:
            return
        path = Path(frame.f_code.co_filename)
        if path.is_relative_to(REPO_ROOT):
            relative = path.relative_to(REPO_ROOT).as_posix()
            if relative.startswith(PROJECT):
                self.modules.add(relative)


async def traced_whoami(client: TestClient, key: str) -> set[str]:
    """The project files one whoami request enters on its way to the decision."""
    trace = PathTrace()
    sys.setprofile(trace)
    try:
        reply = await client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {key}"})
    finally:
        sys.setprofile(None)
    assert reply.status == 200
    assert trace.modules, "the trace saw nothing: was access_middleware renamed?"
    return trace.modules


async def test_a_known_keys_path_to_its_decision_touches_at_most_three_modules(
    aiohttp_client: Any, settings: Settings, pg: asyncpg.Pool
) -> None:
    client: TestClient = await aiohttp_client(create_app(settings))
    tenant = await make_tenant(pg, "path@example.com")
    cache = client.app[key_cache_key]

    async def subscribed() -> bool:
        return cache.healthy

    await eventually(subscribed, 10, "the key-change subscription")  # it clears the cache once
    first = await traced_whoami(client, tenant.key)  # the key's first request: Postgres once
    steady = await traced_whoami(client, tenant.key)  # every later one: the cache
    counted = steady - TRANSPORT
    assert len(counted) <= 3, sorted(steady)
    assert counted == {
        "services/api/access/gate.py",
        "services/api/access/limiter.py",
        "shared/keys.py",
    }, sorted(steady)
    # Once per key per TTL the lookup adds its SQL module (and the statement pool, a transport).
    assert first - TRANSPORT - {"shared/db/statement_pool.py"} == counted | {"shared/db/api_keys.py"}
