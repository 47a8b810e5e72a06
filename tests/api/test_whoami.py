"""GET /api/v1/whoami: the seed's fields plus the additive rate_limit."""

from __future__ import annotations

import asyncpg

from shared.keys import display_prefix
from tests.api.conftest import World
from tests.api.contract import Api
from tests.api.factories import make_key, make_tenant

WHOAMI = "/api/v1/whoami"


async def test_whoami_describes_the_key(api: Api, world: World) -> None:
    body = await api.call("GET", WHOAMI, key=world.a.key, status=200)
    assert body == {
        "user_id": world.a.account_id,
        "email": "a@example.com",
        "auth_method": "api_key",
        "api_key_prefix": display_prefix(world.a.key),
        "scopes": ["read", "write"],
        "rate_limit": {"limit": 120, "window_seconds": 60},  # the growth plan
    }
    read_only = await api.call("GET", WHOAMI, key=world.a.read_key, status=200)
    assert read_only["scopes"] == ["read"]


async def test_rate_limit_comes_from_override_plan_or_default(
    api: Api, pg: asyncpg.Pool, world: World
) -> None:
    override, _ = await make_key(pg, world.b.account_id, ["read"], rate_limit_per_min=7)
    assert (await api.call("GET", WHOAMI, key=override, status=200))["rate_limit"]["limit"] == 7
    assert (await api.call("GET", WHOAMI, key=world.b.key, status=200))["rate_limit"]["limit"] == 300  # pro
    legacy = await make_tenant(pg, "old@example.com", plan="retired-plan")
    assert (await api.call("GET", WHOAMI, key=legacy.key, status=200))["rate_limit"]["limit"] == 60  # free
