"""A job's lane: several leased deliveries of one endpoint sent at once, recorded in one statement,
and the next ones leased in the same transaction; never beyond the endpoint's cap, never out of a
conversation's order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from shared.config import Settings
from shared.db.webhook_deliveries import Attempt, deliveries_to_send, record_attempts
from shared.db.webhook_log import recover_failed
from tests.helpers import eventually
from tests.webhooks.conftest import Endpoint, Listener, running_worker, store, store_many
from tests.webhooks.test_ordering import RICHER


async def _received(endpoint: Endpoint, n: int) -> bool:
    return len(endpoint.receiver.received) >= n


async def test_one_job_sends_its_lane_at_once_within_the_cap(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    # One job slot: only a job sending several deliveries at once can have more than one in flight.
    settings = msgspec.structs.replace(settings, worker_max_jobs=1, webhook_endpoint_concurrency=3)
    slow = await listener.endpoint(lambda i, event: (200, {}, 0.3))
    await store_many(pg, [f"call-{n}" for n in range(9)])
    async with running_worker(settings):
        await eventually(lambda: _received(slow, 9), 15, "every delivery")
    assert slow.receiver.max_in_flight == 3


async def test_lanes_and_passes_together_never_exceed_the_cap(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    # Lanes re-lease their slots while the dispatcher passes every 20 ms with job slots to spare:
    # a slot freed by a lane must never be seen free by a pass.
    settings = msgspec.structs.replace(settings, worker_max_jobs=10, webhook_endpoint_concurrency=2)
    slow = await listener.endpoint(lambda i, event: (200, {}, 0.05))
    await store_many(pg, [f"call-{n}" for n in range(40)])
    async with running_worker(settings):
        await eventually(lambda: _received(slow, 40), 20, "every delivery")
    assert slow.receiver.max_in_flight == 2
    assert await pg.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'") == 40


async def test_a_wide_lane_keeps_each_conversations_order(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    # Every `created` is answered late: were a `created` and its `updated` in flight together, the
    # `updated` would arrive first.
    settings = msgspec.structs.replace(settings, webhook_endpoint_concurrency=10)
    endpoint = await listener.endpoint(
        lambda i, event: (200, {}, 0.2 if event["type"] == "conversation.created" else 0.0)
    )
    calls = [f"call-{n}" for n in range(5)]
    await store_many(pg, calls)
    for call in calls:
        await store(pg, call, **RICHER)
    async with running_worker(settings):
        await eventually(lambda: _received(endpoint, 10), 10, "every delivery")
    by_conversation: dict[int, list[str]] = {}
    for received in endpoint.receiver.received:
        by_conversation.setdefault(received.event["data"]["id"], []).append(received.event["type"])
    assert list(by_conversation.values()) == [["conversation.created", "conversation.updated"]] * 5
    assert endpoint.receiver.max_in_flight >= 2  # the lane was wide: the created ones went together


def _attempt(status_code: int | None, error: str | None = None) -> Attempt:
    return Attempt(datetime.now(UTC), status_code, 12, "", error)


async def _leased(pg: asyncpg.Pool, endpoint_id: int) -> list[Any]:
    """Every delivery of the endpoint leased now, as a job reads it."""
    ids = await pg.fetch("UPDATE webhook_deliveries SET leased_until = now() + interval '1 min' RETURNING id")
    async with pg.acquire() as conn:
        rows = await deliveries_to_send(conn, [r["id"] for r in ids], [0] * len(ids))
    return sorted((row for row in rows if row["endpoint_id"] == endpoint_id), key=lambda row: row["id"])


async def _fanned_out(pg: asyncpg.Pool, n: int) -> None:
    await store_many(pg, [f"call-{i}" for i in range(n)])
    await pg.execute(
        "INSERT INTO webhook_deliveries (event_id, endpoint_id, subject) "
        "SELECT e.id, w.id, e.subject FROM webhook_events e CROSS JOIN webhook_endpoints w"
    )


async def test_several_attempts_recorded_in_one_statement(pg: asyncpg.Pool, listener: Listener) -> None:
    endpoint = await listener.endpoint()
    await _fanned_out(pg, 3)
    ok, retried, stale = await _leased(pg, endpoint.id)
    await pg.execute("UPDATE webhook_deliveries SET attempts = 1 WHERE id = $1", stale["id"])  # not ours
    await pg.execute("UPDATE webhook_endpoints SET failing_since = now() - interval '1 h'")
    retry_at = datetime.now(UTC) + timedelta(minutes=5)
    async with pg.acquire() as conn:
        recorded, leased = await record_attempts(
            conn,
            [(ok, _attempt(204), None), (retried, _attempt(503), retry_at), (stale, _attempt(200), None)],
            disable_after_s=86400,
        )
    assert recorded == {ok["id"], retried["id"]}
    assert leased == []  # no lease asked for
    rows = await pg.fetch("SELECT id, status, attempts, leased_until FROM webhook_deliveries ORDER BY id")
    assert [(r["status"], r["attempts"]) for r in rows] == [("succeeded", 1), ("pending", 1), ("pending", 1)]
    assert rows[1]["leased_until"] is None and rows[2]["leased_until"] is not None  # the stale lease kept
    logged = await pg.fetch("SELECT delivery_id, status_code FROM webhook_attempts ORDER BY delivery_id")
    assert [(r["delivery_id"], r["status_code"]) for r in logged] == [(ok["id"], 204), (retried["id"], 503)]
    # One success among concurrent attempts ends the endpoint's failure streak.
    assert await pg.fetchval("SELECT failing_since FROM webhook_endpoints") is None


async def test_recording_takes_the_next_ones_as_the_slots_it_gave_back(
    pg: asyncpg.Pool, listener: Listener
) -> None:
    endpoint = await listener.endpoint()
    await _fanned_out(pg, 5)
    rows = await pg.fetch(
        "UPDATE webhook_deliveries SET leased_until = now() + interval '1 min' "
        "WHERE id IN (SELECT id FROM webhook_deliveries ORDER BY id LIMIT 2) RETURNING id"
    )
    async with pg.acquire() as conn:
        held = await deliveries_to_send(conn, [r["id"] for r in rows], [0, 0])
        recorded, leased = await record_attempts(
            conn, [(d, _attempt(200), None) for d in held], disable_after_s=86400, lease_s=60
        )
    assert len(recorded) == 2
    assert len(leased) == 2  # as many as were recorded, not the three that are due
    assert {row["endpoint_id"] for row in leased} == {endpoint.id}
    assert await pg.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND leased_until > now()"
    ) == 2  # fmt: skip


async def test_failures_only_start_the_streak_and_disable_past_the_window(
    pg: asyncpg.Pool, listener: Listener
) -> None:
    endpoint = await listener.endpoint()
    await _fanned_out(pg, 3)
    first, second, waiting = await _leased(pg, endpoint.id)
    await pg.execute("UPDATE webhook_deliveries SET leased_until = NULL WHERE id = $1", waiting["id"])
    async with pg.acquire() as conn:
        await record_attempts(conn, [(first, _attempt(500), None)], disable_after_s=60)
        assert await pg.fetchval("SELECT enabled AND failing_since IS NOT NULL FROM webhook_endpoints")
        await pg.execute("UPDATE webhook_endpoints SET failing_since = now() - interval '2 min'")
        await record_attempts(conn, [(second, _attempt(None, "connect: refused"), None)], disable_after_s=60)
    endpoint_row = await pg.fetchrow("SELECT enabled, disabled_reason FROM webhook_endpoints")
    assert endpoint_row is not None
    assert not endpoint_row["enabled"]
    assert endpoint_row["disabled_reason"].endswith("failed; last: connect: refused")
    assert await pg.fetchval("SELECT status FROM webhook_deliveries WHERE id = $1", waiting["id"]) == "failed"


async def test_a_delivery_changed_under_its_job_is_not_recorded_and_its_lease_goes(
    pg: asyncpg.Pool, listener: Listener
) -> None:
    endpoint = await listener.endpoint()
    await _fanned_out(pg, 2)
    recovered, failed = await _leased(pg, endpoint.id)
    # While the job's POSTs are out, an operator fails both and recovers them (the API's recover),
    # then fails the second one again.
    await pg.execute("UPDATE webhook_deliveries SET status = 'failed'")
    since = datetime(2000, 1, 1, tzinfo=UTC)
    assert await recover_failed(pg, listener.account_id, endpoint.id, since) == 2
    await pg.execute("UPDATE webhook_deliveries SET status = 'failed' WHERE id = $1", failed["id"])
    async with pg.acquire() as conn:
        recorded, _ = await record_attempts(
            conn, [(recovered, _attempt(200), None), (failed, _attempt(200), None)], disable_after_s=60
        )
    assert recorded == set()  # the recovered one is due again: this older attempt does not count
    rows = await pg.fetch("SELECT status, attempts, leased_until FROM webhook_deliveries ORDER BY id")
    assert [(r["status"], r["attempts"], r["leased_until"]) for r in rows] == [
        ("pending", 0, None),  # due now, not held for the rest of a lease the job no longer uses
        ("failed", 0, None),
    ]
    assert await pg.fetchval("SELECT count(*) FROM webhook_attempts") == 0
