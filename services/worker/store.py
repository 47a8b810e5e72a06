"""One transaction for a batch: route every event, then upsert the routed ones together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import asyncpg

from shared.db.conversation_writes import ConversationWrite, upsert_conversations
from shared.db.routing import AgentRoute, RouteQuery, find_agents

Outcome = Literal["stored", "unchanged", "no_agent", "agent_suspended"]
ACQUIRE_TIMEOUT_S = 2.0


class Item:
    """One event on its way to Postgres."""

    __slots__ = ("query", "write")

    def __init__(self, query: RouteQuery, write: ConversationWrite) -> None:
        self.query = query
        self.write = write


def _route_outcome(route: AgentRoute | None) -> Outcome | None:
    if route is None:
        return "no_agent"
    if route.is_suspended:
        return "agent_suspended"
    return None


async def write_batch(pool: asyncpg.Pool, items: Sequence[Item]) -> list[Outcome]:
    """Store what routes to a live agent; the outcome of each item, in order."""
    async with pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn, conn.transaction():
        routes = await find_agents(conn, [item.query for item in items])
        rows = [(r, item.write) for r, item in zip(routes, items, strict=True) if r and not r.is_suspended]
        # Webhook events are written by the same statements (the outbox, shared/db/webhook_events.py).
        changed = await upsert_conversations(conn, rows)
    outcomes: list[Outcome] = []
    for route, item in zip(routes, items, strict=True):
        refused = _route_outcome(route)
        if refused is not None:
            outcomes.append(refused)
        else:
            outcomes.append("stored" if item.write.key in changed else "unchanged")
    return outcomes
