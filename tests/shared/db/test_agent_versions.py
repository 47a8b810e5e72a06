"""agents.version (migration 0006): bumped by every UPDATE, whoever writes; patch_agent's
if_versions is checked by the UPDATE itself."""

from __future__ import annotations

import asyncpg

from shared.db.accounts import insert_account
from shared.db.agent_admin import set_suspended
from shared.db.agents import agent_version, insert_agent, patch_agent


async def test_every_update_bumps_the_version(pg: asyncpg.Pool) -> None:
    account_id = await insert_account(pg, "owner@example.com", "growth")
    agent_id = await insert_agent(pg, account_id=account_id, phone_number=None, business_name="Dental")
    assert await agent_version(pg, account_id, agent_id) == 1
    assert (
        await patch_agent(pg, account_id, agent_id, ["business_name"], {"business_name": "Dental Care"}) == 2
    )
    await set_suspended(pg, agent_id, True)
    await pg.execute("UPDATE agents SET voice = voice WHERE id = $1", agent_id)  # even a no-op write
    assert await agent_version(pg, account_id, agent_id) == 4
    assert await agent_version(pg, account_id + 1, agent_id) is None


async def test_a_patch_at_another_version_writes_nothing(pg: asyncpg.Pool) -> None:
    account_id = await insert_account(pg, "owner@example.com", "growth")
    agent_id = await insert_agent(pg, account_id=account_id, phone_number=None, business_name="Dental")
    change = {"business_name": "Stale"}
    assert await patch_agent(pg, account_id, agent_id, ["business_name"], change, if_versions=[2, 3]) is None
    assert await patch_agent(pg, account_id, agent_id, ["business_name"], change, if_versions=[]) is None
    row = await pg.fetchrow("SELECT business_name, version FROM agents WHERE id = $1", agent_id)
    assert row is not None and (row["business_name"], row["version"]) == ("Dental", 1)
    assert await patch_agent(pg, account_id, agent_id, ["business_name"], change, if_versions=[5, 1]) == 2
