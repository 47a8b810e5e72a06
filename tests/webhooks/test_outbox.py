"""The outbox: one event per change, written with the change, only for accounts that listen."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from shared.db.webhook_deliveries import prune
from tests.webhooks.conftest import Listener, store, store_many
from tests.worker.conftest import T0

EVENTS_SQL = "SELECT type, subject, payload FROM webhook_events ORDER BY id"


async def test_no_enabled_endpoint_no_event(pg: asyncpg.Pool, listener: Listener) -> None:
    assert await store(pg, "call-quiet") == ["stored"]
    endpoint = await listener.endpoint()
    await pg.execute("UPDATE webhook_endpoints SET enabled = false WHERE id = $1", endpoint.id)
    assert await store(pg, "call-quiet-2") == ["stored"]
    assert await pg.fetch(EVENTS_SQL) == []


async def test_created_then_updated_and_a_replay_emits_nothing(pg: asyncpg.Pool, listener: Listener) -> None:
    await listener.endpoint()
    assert await store(pg, "call-1") == ["stored"]
    assert await store(pg, "call-1") == ["unchanged"]  # the same webhook, replayed
    richer = {"event_rank": 2, "event_at": T0 + timedelta(minutes=5), "summary": "Booked for Tuesday."}
    assert await store(pg, "call-1", **richer) == ["stored"]
    assert await store(pg, "call-1", **richer) == ["unchanged"]
    events = await pg.fetch(EVENTS_SQL)
    conversation_id = await pg.fetchval("SELECT id FROM conversations")
    assert [(e["type"], e["subject"]) for e in events] == [
        ("conversation.created", f"conversation:{conversation_id}"),
        ("conversation.updated", f"conversation:{conversation_id}"),
    ]
    assert events[1]["payload"]["data"]["summary"] == "Booked for Tuesday."


async def test_payload_envelope_and_one_event_per_conversation(pg: asyncpg.Pool, listener: Listener) -> None:
    await listener.endpoint()
    await store(pg, "call-a")
    await store(pg, "call-b")
    rows = await pg.fetch("SELECT event_id, payload FROM webhook_events ORDER BY id")
    assert len({row["event_id"] for row in rows}) == 2
    for row in rows:
        payload = row["payload"]
        assert set(payload) == {"id", "type", "timestamp", "data"}
        assert payload["id"] == row["event_id"] and payload["id"].startswith("msg_")
        assert payload["timestamp"].endswith("Z")


async def test_retention_prunes_old_events_with_their_log(pg: asyncpg.Pool, listener: Listener) -> None:
    endpoint = await listener.endpoint()
    await store(pg, "call-old")
    await store(pg, "call-new")
    old_id, new_id = [r["id"] for r in await pg.fetch("SELECT id FROM webhook_events ORDER BY id")]
    for event_id in (old_id, new_id):
        await pg.execute(
            "INSERT INTO webhook_deliveries (event_id, endpoint_id, subject) VALUES ($1, $2, 'x')",
            event_id,
            endpoint.id,
        )
    await pg.execute(
        "UPDATE webhook_events SET created_at = now() - interval '31 days' WHERE id = $1", old_id
    )
    async with pg.acquire() as conn:
        assert await prune(conn) == 1
        assert await prune(conn) == 0
    assert [r["event_id"] for r in await pg.fetch("SELECT event_id FROM webhook_deliveries")] == [new_id]


async def test_a_batch_gives_every_event_its_own_id(pg: asyncpg.Pool, listener: Listener) -> None:
    """Many conversations in one statement: one event each, each with its own id, in its payload too.

    Two batches: with rows already there Postgres planned the first version of this statement with a
    Memoize node that handed a whole batch one event id (a unique violation, found by the fault test).
    """
    await listener.endpoint()
    await store_many(pg, [f"call-first-{n}" for n in range(80)])
    await store_many(pg, [f"call-batch-{n}" for n in range(80)])
    rows = await pg.fetch("SELECT event_id, type, subject, payload FROM webhook_events")
    assert len(rows) == 160
    assert len({row["event_id"] for row in rows}) == 160
    assert len({row["subject"] for row in rows}) == 160
    assert all(row["payload"]["id"] == row["event_id"] for row in rows)
    assert {row["type"] for row in rows} == {"conversation.created"}
