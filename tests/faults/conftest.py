"""Fault-test fixtures: an agent to route to, a log directory for the processes."""

from __future__ import annotations

import asyncpg
import pytest

from shared.db.accounts import insert_account
from shared.db.agents import insert_agent
from tests.worker.conftest import AGENT_PHONE


@pytest.fixture
async def agent_id(pg: asyncpg.Pool) -> int:
    """The agent that owns AGENT_PHONE."""
    account_id = await insert_account(pg, "faults@example.com", "growth")
    return await insert_agent(pg, account_id=account_id, phone_number=AGENT_PHONE, business_name="Faulty Co")
