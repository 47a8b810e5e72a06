"""Tenant isolation: for every endpoint, B's ids are 404 to A and B's rows never show in A's lists."""

from __future__ import annotations

import asyncpg

from tests.api.conftest import World
from tests.api.contract import Api


async def test_foreign_ids_are_indistinguishable_from_missing(
    api: Api, pg: asyncpg.Pool, world: World
) -> None:
    cases = [
        ("GET", "/api/v1/conversations/{id}", world.b_call, 999_999, {}),
        ("GET", "/api/v1/agents/{id}", world.b_agent, 999_999, {}),
        ("PATCH", "/api/v1/agents/{id}", world.b_agent, 999_999, {"json": {"business_name": "Hacked"}}),
    ]
    for method, template, foreign, missing, kwargs in cases:
        theirs = await api.call(method, template, path_id=foreign, key=world.a.key, status=404, **kwargs)
        nobody = await api.call(method, template, path_id=missing, key=world.a.key, status=404, **kwargs)
        assert theirs == nobody
    assert (
        await pg.fetchval("SELECT business_name FROM agents WHERE id = $1", world.b_agent) == "Bravo Dental"
    )
    # B itself reaches the same ids: the 404 is about ownership, not the id.
    for method, template, foreign, _, kwargs in cases:
        await api.call(method, template, path_id=foreign, key=world.b.key, status=200, **kwargs)
    assert await pg.fetchval("SELECT business_name FROM agents WHERE id = $1", world.b_agent) == "Hacked"


async def test_lists_never_carry_another_accounts_rows(api: Api, world: World) -> None:
    conversations = await api.call("GET", "/api/v1/conversations", key=world.a.key, status=200)
    assert {c["id"] for c in conversations["conversations"]} == {world.a_call, world.a_chat}
    assert world.b_agent not in {c["agent_id"] for c in conversations["conversations"]}
    filtered = await api.call(
        "GET", "/api/v1/conversations", key=world.a.key, status=200, params={"agent_id": str(world.b_agent)}
    )
    assert filtered["conversations"] == []
    agents = await api.call("GET", "/api/v1/agents", key=world.a.key, status=200)
    assert {a["id"] for a in agents["agents"]} == {world.a_agent, world.a_agent2}
    b_list = await api.call("GET", "/api/v1/conversations", key=world.b.key, status=200)
    assert [c["id"] for c in b_list["conversations"]] == [world.b_call]
    me = await api.call("GET", "/api/v1/whoami", key=world.b.key, status=200)
    assert me["user_id"] == world.b.account_id
