"""shared/db/account_stats.py against the test Postgres: counts are per account."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from shared.db.account_stats import count_conversations
from shared.db.accounts import insert_account
from shared.db.agents import insert_agent

# Just the NOT NULL columns; conversation_writes.py's own tests cover the real write.
INSERT_CONVERSATION_SQL = """
INSERT INTO conversations (account_id, agent_id, channel, source, provider_call_id, started_at,
    ended_at, duration_seconds, end_reason, event_rank, event_at)
VALUES ($1, $2, 'phone', 'vapi', $3, $4, $4, 0, 'caller_ended', 1, $4)
"""
AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


async def _account_with_conversations(pg: asyncpg.Pool, email: str, count: int) -> int:
    account_id = await insert_account(pg, email, "growth")
    agent_id = await insert_agent(pg, account_id=account_id, phone_number=None, business_name=email)
    for n in range(count):
        await pg.execute(INSERT_CONVERSATION_SQL, account_id, agent_id, f"{email}-{n}", AT)
    return account_id


async def test_each_account_counts_only_its_own_conversations(pg: asyncpg.Pool) -> None:
    busy = await _account_with_conversations(pg, "busy@example.com", 3)
    quiet = await _account_with_conversations(pg, "quiet@example.com", 1)
    empty = await _account_with_conversations(pg, "empty@example.com", 0)
    assert [await count_conversations(pg, a) for a in (busy, quiet, empty)] == [3, 1, 0]


async def test_an_unknown_account_has_none(pg: asyncpg.Pool) -> None:
    await _account_with_conversations(pg, "busy@example.com", 2)
    assert await count_conversations(pg, 999_999) == 0
