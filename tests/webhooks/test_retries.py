"""Failed deliveries: the retry schedule (scaled down), Retry-After, giving up, and disabling an
endpoint after its failure window; every attempt is in the log."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from shared.config import Settings
from shared.webhooks.schedule import JITTER, MAX_ATTEMPTS, RETRY_DELAYS_S, retry_delay_s
from tests.helpers import eventually
from tests.webhooks.conftest import Listener, running_worker, store
from tests.webhooks.receiver import always

SLACK_S = 0.6  # dispatch interval, queue poll and a loaded machine, on top of the schedule


def _fail_first(n: int, status: int = 500, headers: dict[str, str] | None = None) -> Any:
    return lambda i, event: (status, headers or {}, 0.0) if i < n else (200, {}, 0.0)


async def _status(pg: asyncpg.Pool) -> str | None:
    status: str | None = await pg.fetchval("SELECT status FROM webhook_deliveries")
    return status if status != "pending" else None


def test_the_schedule_is_at_least_svix_and_jitter_only_lengthens() -> None:
    assert RETRY_DELAYS_S == (5, 300, 1800, 7200, 18000, 36000, 36000)
    for attempts in range(1, MAX_ATTEMPTS):
        delay = retry_delay_s(attempts, scale=1.0)
        assert delay is not None
        assert RETRY_DELAYS_S[attempts - 1] <= delay <= RETRY_DELAYS_S[attempts - 1] * (1 + JITTER)
    assert retry_delay_s(MAX_ATTEMPTS, scale=1.0) is None
    assert retry_delay_s(1, scale=0.001, retry_after_s=2) == 2


async def test_retries_follow_the_scaled_schedule(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    settings = msgspec.structs.replace(settings, webhook_retry_scale=0.002)  # 10 ms, 0.6 s, 3.6 s
    endpoint = await listener.endpoint(_fail_first(3))
    async with running_worker(settings):
        await store(pg, "call-retried")
        await eventually(lambda: _status(pg), 15, "the delivery to succeed")
    times = [r.at for r in endpoint.receiver.received]
    assert len(times) == 4
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    for gap, step in zip(gaps, RETRY_DELAYS_S, strict=False):
        assert step * 0.002 <= gap <= step * 0.002 * (1 + JITTER) + SLACK_S, gaps
    attempts = await pg.fetch("SELECT status_code, response_body, error FROM webhook_attempts ORDER BY id")
    assert [a["status_code"] for a in attempts] == [500, 500, 500, 200]
    assert attempts[0]["response_body"] == "nope"
    assert await pg.fetchval("SELECT attempts FROM webhook_deliveries") == 4


async def test_retry_after_is_honoured(settings: Settings, pg: asyncpg.Pool, listener: Listener) -> None:
    endpoint = await listener.endpoint(_fail_first(1, 429, {"Retry-After": "1"}))
    async with running_worker(settings):
        await store(pg, "call-throttled")
        await eventually(lambda: _status(pg), 10, "the delivery to succeed")
    first, second = (r.at for r in endpoint.receiver.received)
    assert second - first >= 1.0  # the scaled schedule alone would wait 5 ms


async def test_gives_up_after_the_last_attempt(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    settings = msgspec.structs.replace(settings, webhook_retry_scale=0.00001)
    endpoint = await listener.endpoint(always(500))
    async with running_worker(settings):
        await store(pg, "call-doomed")
        assert await eventually(lambda: _status(pg), 15, "the delivery to fail") == "failed"
    assert len(endpoint.receiver.received) == MAX_ATTEMPTS
    assert await pg.fetchval("SELECT count(*) FROM webhook_attempts") == MAX_ATTEMPTS


async def test_endpoint_disabled_after_the_failure_window(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    settings = msgspec.structs.replace(settings, webhook_retry_scale=0.0001, webhook_disable_after_s=0.3)
    endpoint = await listener.endpoint(always(503))
    healthy = await listener.endpoint()
    async with running_worker(settings):
        await store(pg, "call-1")

        async def disabled() -> Any:
            return await pg.fetchrow(
                "SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = $1 AND NOT enabled",
                endpoint.id,
            )

        row = await eventually(disabled, 15, "the failing endpoint to be disabled")
        await store(pg, "call-2")
        await eventually(lambda: _received_n(healthy.receiver.received, 2), 10, "the healthy endpoint's 2nd")
    assert "failed; last: HTTP 503" in row["disabled_reason"]
    statuses = await pg.fetch("SELECT status FROM webhook_deliveries WHERE endpoint_id = $1", endpoint.id)
    assert [s["status"] for s in statuses] == ["failed"]  # call-2 was never fanned out to it
    assert await pg.fetchval("SELECT enabled FROM webhook_endpoints WHERE id = $1", healthy.id)


async def _received_n(received: list[Any], n: int) -> bool:
    return len(received) >= n
