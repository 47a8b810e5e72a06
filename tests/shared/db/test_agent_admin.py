"""shared/db/agent_admin.py against the test Postgres: suspending and reinstating an agent."""

from __future__ import annotations

import asyncpg
import pytest

from shared.db.accounts import insert_account
from shared.db.agent_admin import set_suspended
from shared.db.agents import insert_agent
from shared.errors import NotFound

IS_SUSPENDED_SQL = "SELECT is_suspended FROM agents WHERE id = $1"


async def test_suspend_then_reinstate_is_stored_and_returned(pg: asyncpg.Pool) -> None:
    account_id = await insert_account(pg, "owner@example.com", "growth")
    agent_id = await insert_agent(pg, account_id=account_id, phone_number="+15550100", business_name="Dental")
    other = await insert_agent(pg, account_id=account_id, phone_number="+15550101", business_name="Vet")

    row = await set_suspended(pg, agent_id, True)
    assert tuple(row) == (agent_id, account_id, "Dental", True)
    assert await pg.fetchval(IS_SUSPENDED_SQL, agent_id) is True
    assert await pg.fetchval(IS_SUSPENDED_SQL, other) is False  # only the named agent

    assert (await set_suspended(pg, agent_id, False))["is_suspended"] is False
    assert await pg.fetchval(IS_SUSPENDED_SQL, agent_id) is False


async def test_suspending_twice_is_harmless(pg: asyncpg.Pool) -> None:
    account_id = await insert_account(pg, "owner@example.com", "growth")
    agent_id = await insert_agent(pg, account_id=account_id, phone_number=None, business_name="Dental")
    await set_suspended(pg, agent_id, True)
    assert (await set_suspended(pg, agent_id, True))["is_suspended"] is True


async def test_a_missing_agent_is_not_found(pg: asyncpg.Pool) -> None:
    with pytest.raises(NotFound, match="no agent with id 424242"):
        await set_suspended(pg, 424242, True)
