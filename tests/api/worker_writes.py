"""Conversations written the way the worker writes them (shared.db.conversation_writes), so the search
documents and change_xid come from the real write path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.db.conversation_writes import ConversationWrite, upsert_conversations
from shared.db.routing import AgentRoute
from shared.models import Turn

STARTED = datetime(2026, 6, 9, 14, 3, tzinfo=UTC)


def phone_call(
    call_id: str, *, version: int, summary: str | None = None, words: str = "hello"
) -> ConversationWrite:
    """A phone call; a higher version is a later (more complete) event of the same call."""
    return ConversationWrite(
        source="phone",
        provider_call_id=call_id,
        channel="phone",
        event_rank=1,
        event_at=STARTED + timedelta(seconds=version),
        started_at=STARTED,
        ended_at=STARTED + timedelta(minutes=2),
        transcript=[Turn(role="caller", content=words, elapsed_s=1.0, raw_role="user")],
        summary=summary,
        duration_seconds=120,
        end_reason="caller_ended",
        raw_body=b"{}",
    )


async def store(
    conn: asyncpg.Connection | PoolConnectionProxy,
    account_id: int,
    agent_id: int,
    *writes: ConversationWrite,
) -> dict[str, int]:
    """Upsert the writes (in the caller's transaction, if any); the ids of those that changed by call id."""
    route = AgentRoute(agent_id=agent_id, account_id=account_id, is_suspended=False)
    changed = await upsert_conversations(conn, [(route, write) for write in writes])
    return {call_id: row.id for (_, call_id), row in changed.items()}
