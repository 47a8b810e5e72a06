"""Operator-only SQL for `agents` (the CLI's suspend/unsuspend); the API's lives in agents.py."""

from __future__ import annotations

import asyncpg

from shared.db.statement_pool import Queryable
from shared.errors import NotFound

SET_SUSPENDED_SQL = """
UPDATE agents SET is_suspended = $2, updated_at = now()
WHERE id = $1
RETURNING id, account_id, business_name, is_suspended
"""


async def set_suspended(conn: Queryable, agent_id: int, suspended: bool) -> asyncpg.Record:
    """Suspend (the worker dead-letters its events) or reinstate an agent."""
    row = await conn.fetchrow(SET_SUSPENDED_SQL, agent_id, suspended)
    if row is None:
        raise NotFound(f"no agent with id {agent_id}")
    return row
