"""What becomes of a disabled endpoint's pending deliveries (docs/webhooks.md, "Disabling"): turned
off by its account they wait, are never attempted while it is off, and resume when it is enabled
again; disabled by the failure window they fail (tests/webhooks/test_retries.py) and stay failed
when it is enabled again, until recovered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from shared.config import Settings
from shared.db.webhook_endpoints import update_endpoint
from shared.db.webhook_log import recover_failed
from tests.helpers import eventually
from tests.webhooks.conftest import Listener, running_worker, store
from tests.webhooks.receiver import Receiver, always

RETRY_AFTER_S = 1  # Retry-After is never scaled: the retry waits this long, whatever the schedule


def _first_refused(n: int, event: dict[str, Any]) -> tuple[int, dict[str, str], float]:
    return (503, {"retry-after": str(RETRY_AFTER_S)}, 0.0) if n == 0 else (200, {}, 0.0)


async def _delivery(pg: asyncpg.Pool, endpoint_id: int) -> tuple[str, int, bool]:
    """The endpoint's one delivery: (status, attempts, due); ("none", 0, False) before fan-out."""
    row: asyncpg.Record | None = await pg.fetchrow(
        "SELECT status, attempts, next_attempt_at <= now() AS due FROM webhook_deliveries"
        " WHERE endpoint_id = $1",
        endpoint_id,
    )
    return ("none", 0, False) if row is None else (row[0], row["attempts"], row["due"])


async def _received(receiver: Receiver, count: int) -> bool:
    return len(receiver.received) >= count


async def test_a_paused_endpoints_deliveries_wait_and_resume_when_enabled(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    settings = msgspec.structs.replace(settings, webhook_disable_after_s=3600.0)
    paused = await listener.endpoint(_first_refused)
    healthy = await listener.endpoint(always(200))
    account = listener.account_id
    async with running_worker(settings):
        await store(pg, "call-1")

        async def refused_once() -> bool:
            return (await _delivery(pg, paused.id))[1] == 1

        await eventually(refused_once, 10, "the first attempt refused")
        await update_endpoint(pg, account, paused.id, ["enabled"], {"enabled": False})  # the API's PATCH

        async def due() -> bool:
            return (await _delivery(pg, paused.id))[2]

        await eventually(due, RETRY_AFTER_S + 5, "the retry to be due")
        # A change after the delivery is due, delivered to the healthy endpoint: passes have run.
        await store(pg, "call-2")
        await eventually(lambda: _received(healthy.receiver, 2), 10, "call-2 at the healthy endpoint")
        assert len(paused.receiver.received) == 1
        assert await _delivery(pg, paused.id) == ("pending", 1, True)

        await update_endpoint(pg, account, paused.id, ["enabled"], {"enabled": True})

        async def succeeded() -> bool:
            return (await _delivery(pg, paused.id))[0] == "succeeded"

        await eventually(succeeded, 10, "the waiting delivery to resume")
    first, resumed = paused.receiver.received
    assert first.headers["webhook-id"] == resumed.headers["webhook-id"]  # call-1's, tried again
    assert await pg.fetchval("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1", paused.id) == 1


async def test_failed_by_the_window_they_stay_failed_when_enabled_until_recovered(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    settings = msgspec.structs.replace(settings, webhook_retry_scale=0.0001, webhook_disable_after_s=0.3)
    flaky = await listener.endpoint(always(503))
    account = listener.account_id
    async with running_worker(settings):
        await store(pg, "call-1")

        async def disabled() -> bool:
            return not await pg.fetchval("SELECT enabled FROM webhook_endpoints WHERE id = $1", flaky.id)

        await eventually(disabled, 15, "the failing endpoint to be disabled")
        assert (await _delivery(pg, flaky.id))[0] == "failed"
        flaky.receiver.behaviour = always(200)
        await update_endpoint(pg, account, flaky.id, ["enabled"], {"enabled": True})
        assert (await _delivery(pg, flaky.id))[0] == "failed"  # enabling alone brings nothing back
        since = datetime.now(UTC) - timedelta(hours=1)
        assert await recover_failed(pg, account, flaky.id, since) == 1

        async def succeeded() -> bool:
            return (await _delivery(pg, flaky.id))[0] == "succeeded"

        await eventually(succeeded, 10, "the recovered delivery")
