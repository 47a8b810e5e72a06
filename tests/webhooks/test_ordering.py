"""Per-conversation ordering per endpoint, and one slow endpoint not starving the others."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import msgspec

from shared.config import Settings
from tests.helpers import eventually
from tests.webhooks.conftest import Listener, running_worker, store, store_many
from tests.worker.conftest import T0

RICHER = {"event_rank": 2, "event_at": T0 + timedelta(minutes=5), "summary": "Booked."}


async def _all_settled(pg: asyncpg.Pool, n: int) -> bool:
    """n deliveries exist and none is pending."""
    settled: bool = await pg.fetchval(
        "SELECT count(*) = $1 AND count(*) FILTER (WHERE status = 'pending') = 0 FROM webhook_deliveries", n
    )
    return settled


async def test_updated_is_never_delivered_before_its_created(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    # The first request (the `created`) fails, so it waits for its retry; the `updated` must wait too.
    endpoint = await listener.endpoint(lambda i, event: (500, {}, 0.0) if i == 0 else (200, {}, 0.0))
    await store(pg, "call-ordered")
    await store(pg, "call-ordered", **RICHER)
    async with running_worker(settings):
        await eventually(lambda: _all_settled(pg, 2), 10, "both deliveries settled")
    types = [(r.event["type"], r.status) for r in endpoint.receiver.received]
    assert types == [
        ("conversation.created", 500),
        ("conversation.created", 200),
        ("conversation.updated", 200),
    ]


async def test_other_conversations_are_not_held_up(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    settings = msgspec.structs.replace(settings, webhook_retry_scale=0.1)  # the retry waits 0.5 s
    endpoint = await listener.endpoint(
        lambda i, event: (
            (500, {}, 0.0)
            if event["data"]["summary"] and "stuck" in event["data"]["summary"]
            else (200, {}, 0.0)
        )
    )
    await store(pg, "call-stuck", summary="stuck")
    await store(pg, "call-free")
    async with running_worker(settings):
        await eventually(
            lambda: _has_success(endpoint.receiver.received), 5, "the other conversation delivered"
        )
    assert await pg.fetchval(
        "SELECT status FROM webhook_deliveries WHERE subject LIKE 'conversation:%' ORDER BY id LIMIT 1"
    ) == "pending"  # fmt: skip


async def _has_success(received: list[Any]) -> bool:
    return any(r.status == 200 for r in received)


async def test_a_slow_endpoint_gets_at_most_its_cap_and_the_others_go_on(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    settings = msgspec.structs.replace(settings, worker_max_jobs=4, webhook_endpoint_concurrency=2)
    slow = await listener.endpoint(lambda i, event: (200, {}, 1.0))
    fast = await listener.endpoint()
    await store_many(pg, [f"call-{n}" for n in range(6)])
    async with running_worker(settings):
        await eventually(
            lambda: _at_least(fast.receiver.received, 6), 5, "every delivery to the fast endpoint"
        )
        slow_done_then = len(slow.receiver.received)
        await eventually(
            lambda: _at_least(slow.receiver.received, 6), 15, "every delivery to the slow endpoint"
        )
    assert slow.receiver.max_in_flight <= 2
    assert slow_done_then <= 4  # the fast endpoint did not wait for the slow one's queue


async def _at_least(received: list[Any], n: int) -> bool:
    return len(received) >= n
