"""All SQL that finds the agent an incoming event belongs to."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

# One round trip for a whole batch. Per event: the named agent (web chats, native calls that
# give agent_id) and nothing else; otherwise the agent owning the called number, then the one
# holding the provider's assistant id.
FIND_AGENTS_SQL = """
SELECT m.agent_id, m.account_id, m.is_suspended
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])
     WITH ORDINALITY AS q(agent_id, to_number, source, assistant_id, ord)
LEFT JOIN LATERAL (
    SELECT c.agent_id, c.account_id, c.is_suspended
    FROM (
        SELECT a.id AS agent_id, a.account_id, a.is_suspended, 1 AS prio
        FROM agents a WHERE a.id = q.agent_id
        UNION ALL
        SELECT a.id, a.account_id, a.is_suspended, 2
        FROM agents a WHERE q.agent_id IS NULL AND a.phone_number = q.to_number
        UNION ALL
        SELECT a.id, a.account_id, a.is_suspended, 3
        FROM agent_provider_ids p JOIN agents a ON a.id = p.agent_id
        WHERE q.agent_id IS NULL AND p.source = q.source AND p.provider_assistant_id = q.assistant_id
    ) c
    ORDER BY c.prio
    LIMIT 1
) m ON true
ORDER BY q.ord
"""


class RouteQuery(msgspec.Struct, frozen=True):
    """What an event says about its agent."""

    source: str
    agent_id: int | None
    to_number: str | None
    provider_assistant_id: str | None


class AgentRoute(msgspec.Struct, frozen=True):
    """The agent an event belongs to, and whether it may receive conversations."""

    agent_id: int
    account_id: int
    is_suspended: bool


async def find_agents(
    conn: asyncpg.Connection | PoolConnectionProxy | asyncpg.Pool, queries: Sequence[RouteQuery]
) -> list[AgentRoute | None]:
    """The agent for each query, in order; None where no agent matches."""
    rows = await conn.fetch(
        FIND_AGENTS_SQL,
        [q.agent_id for q in queries],
        [q.to_number for q in queries],
        [q.source for q in queries],
        [q.provider_assistant_id for q in queries],
    )
    return [
        None
        if row["agent_id"] is None
        else AgentRoute(row["agent_id"], row["account_id"], row["is_suspended"])
        for row in rows
    ]
