"""write_batch: one transaction routes every item and upserts the routed ones; outcomes in order."""

from __future__ import annotations

import asyncpg

from services.worker.store import write_batch
from tests.worker.conftest import Agent
from tests.worker.items import make_item


async def test_outcome_of_each_item_in_order(pg: asyncpg.Pool, agent: Agent) -> None:
    items = [
        await make_item("call-stored"),
        await make_item("call-orphan", to_number="+14155550000"),
        await make_item("call-chat", agent_id=agent.id, to_number=None),
    ]
    assert await write_batch(pg, items) == ["stored", "no_agent", "stored"]
    rows = await pg.fetch("SELECT provider_call_id, agent_id FROM conversations ORDER BY provider_call_id")
    assert [tuple(r) for r in rows] == [("call-chat", agent.id), ("call-stored", agent.id)]


async def test_a_copy_is_unchanged_and_one_row(pg: asyncpg.Pool, agent: Agent) -> None:
    assert await write_batch(pg, [await make_item("call-twice")]) == ["stored"]
    assert await write_batch(pg, [await make_item("call-twice")]) == ["unchanged"]
    assert await pg.fetchval("SELECT count(*) FROM conversations") == 1


async def test_suspended_agent_stores_nothing(pg: asyncpg.Pool, agent: Agent) -> None:
    await pg.execute("UPDATE agents SET is_suspended = true WHERE id = $1", agent.id)
    assert await write_batch(pg, [await make_item("call-suspended")]) == ["agent_suspended"]
    assert await pg.fetchval("SELECT count(*) FROM conversations") == 0


async def test_batch_is_one_transaction(pg: asyncpg.Pool, agent: Agent) -> None:
    items = [await make_item(f"call-{n}") for n in range(5)]
    assert await write_batch(pg, items) == ["stored"] * 5
    # Rows written by one transaction share its id (xmin).
    assert await pg.fetchval("SELECT count(DISTINCT xmin::text) FROM conversations") == 1
