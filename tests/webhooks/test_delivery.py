"""Delivery end to end: outbox → dispatcher → deliver_webhook job → a real local receiver."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import msgspec

from shared.config import Settings
from shared.queue import create_arq_pool, enqueue_event
from tests.helpers import eventually
from tests.webhooks.conftest import Listener, running_worker, store
from tests.webhooks.receiver import Receiver
from tests.webhooks.verify import Webhook
from tests.worker.conftest import T0, make_event

RICHER = {"event_rank": 2, "event_at": T0 + timedelta(minutes=5), "summary": "Booked for Tuesday."}
DELIVERIES_SQL = "SELECT status, attempts FROM webhook_deliveries ORDER BY id"


def _received(receiver: Receiver, n: int) -> Any:
    async def check() -> bool:
        return len(receiver.received) >= n

    return check


async def _settled(pg: asyncpg.Pool) -> bool:
    """Deliveries exist and none is pending."""
    settled: bool = await pg.fetchval(
        "SELECT count(*) > 0 AND count(*) FILTER (WHERE status = 'pending') = 0 FROM webhook_deliveries"
    )
    return settled


async def test_one_signed_delivery_per_change(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    endpoint = await listener.endpoint()
    async with running_worker(settings):
        await store(pg, "call-1")
        await store(pg, "call-1")  # replayed: no second event
        await store(pg, "call-1", **RICHER)
        await eventually(_received(endpoint.receiver, 2), 10, "two deliveries")
        await eventually(lambda: _settled(pg), 5, "deliveries settled")
    received = endpoint.receiver.received
    assert len(received) == 2
    verifier = Webhook(endpoint.secret)
    events = [verifier.verify(r.body, r.headers) for r in received]
    assert [e["type"] for e in events] == ["conversation.created", "conversation.updated"]
    assert [r.headers["webhook-id"] for r in received] == [e["id"] for e in events]
    assert events[1]["data"]["summary"] == "Booked for Tuesday."
    assert [tuple(r) for r in await pg.fetch(DELIVERIES_SQL)] == [("succeeded", 1), ("succeeded", 1)]


async def test_a_wrong_secret_does_not_verify(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    endpoint = await listener.endpoint()
    other = await listener.endpoint()
    async with running_worker(settings):
        await store(pg, "call-1")
        await eventually(_received(endpoint.receiver, 1), 10, "a delivery")
    received = endpoint.receiver.received[0]
    try:
        Webhook(other.secret).verify(received.body, received.headers)
    except Exception as err:  # WebhookVerificationError
        assert "signature" in str(err).lower()
    else:
        raise AssertionError("another endpoint's secret verified the delivery")


async def test_filters_by_event_type_and_agent(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    everything = await listener.endpoint()
    only_updates = await listener.endpoint(event_types=["conversation.updated"])
    other_agent_id = await pg.fetchval(
        "INSERT INTO agents (account_id, agent_goal, business_name, business_services) "
        "VALUES ($1, 'g', 'Other', 's') RETURNING id",
        listener.account_id,
    )
    other_agent = await listener.endpoint(agent_id=other_agent_id)
    async with running_worker(settings):
        await store(pg, "call-1")
        await store(pg, "call-1", **RICHER)
        await eventually(_received(everything.receiver, 2), 10, "both events at the catch-all endpoint")
        await eventually(_received(only_updates.receiver, 1), 5, "the update at the filtered endpoint")
        await eventually(lambda: _settled(pg), 5, "deliveries settled")
    assert [r.event["type"] for r in only_updates.receiver.received] == ["conversation.updated"]
    assert other_agent.receiver.received == []


async def test_a_stored_conversation_wakes_the_dispatcher(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    """The next pass comes when the worker stores a conversation, not at the end of the interval:
    with an interval of a minute, both deliveries arrive within seconds."""
    endpoint = await listener.endpoint()
    hourly = msgspec.structs.replace(settings, webhook_dispatch_interval_ms=60_000)
    arq = await create_arq_pool(hourly)
    try:
        async with running_worker(hourly):
            await enqueue_event(arq, make_event("call-woken-1"))
            await eventually(_received(endpoint.receiver, 1), 10, "the first delivery")
            # A pass has run since the first was stored: only another wake can send the second.
            await enqueue_event(arq, make_event("call-woken-2"))
            await eventually(_received(endpoint.receiver, 2), 10, "the second delivery")
    finally:
        await arq.aclose()
    calls = [
        Webhook(endpoint.secret).verify(r.body, r.headers)["data"]["id"] for r in endpoint.receiver.received
    ]
    assert len(set(calls)) == 2
