"""The deliver_webhook job: one attempt at one leased delivery, recorded with its outcome.

The job never raises: whatever happens to the POST becomes an attempt in the log. If recording
fails (Postgres gone), the lease simply expires and the dispatcher hands the delivery out again:
the receiver may then see the same webhook-id twice, which is what at-least-once means.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog
from arq.worker import Function, func

from services.worker.deliveries.send import TIMEOUT_S, Sent, send
from services.worker.deliveries.state import DELIVERIES_CTX, Deliveries
from shared.db.webhook_deliveries import delivery_to_send, lease_next, record_attempt
from shared.webhooks.schedule import retry_delay_s

log = structlog.get_logger(__name__)

DELIVER_WEBHOOK_JOB = "deliver_webhook"
# A job goes on with its endpoint's next due deliveries for this long; then one more attempt
# (TIMEOUT_S) and recording it must still fit in JOB_TIMEOUT_S.
LANE_BUDGET_S = 1.0  # short: a shutdown waits for running jobs
JOB_TIMEOUT_S = LANE_BUDGET_S + TIMEOUT_S + 10
# A leased delivery is not handed out again for this long: a job's whole run plus room to wait in
# the queue. A lost job's delivery is due again after it.
LEASE_S = JOB_TIMEOUT_S + 30
KILLED_RUNS = 5  # arq's own tries of one job id (a kill, a cancel at shutdown)


def job_id(delivery_id: int, attempts: int) -> str:
    """One id per delivery and attempt: re-enqueueing the same attempt is refused while it waits."""
    return f"webhook:{delivery_id}:{attempts}"


async def deliver_webhook(ctx: dict[str, Any], delivery_id: int, attempts: int) -> str:
    """Attempt number attempts + 1 of this delivery, unless another run already made it; then keep
    the lane: attempt the endpoint's next due deliveries for up to LANE_BUDGET_S (fewer round trips
    through the dispatcher and the queue; the endpoint's cap still holds, the lane is one slot)."""
    deliveries: Deliveries = ctx[DELIVERIES_CTX]
    async with deliveries.pool.acquire() as conn:
        delivery = await delivery_to_send(conn, delivery_id)
    if delivery is None or delivery["status"] != "pending" or delivery["attempts"] != attempts:
        return "stale"
    outcome = await attempt(deliveries, delivery)
    deadline = asyncio.get_running_loop().time() + LANE_BUDGET_S
    while outcome != "stale" and asyncio.get_running_loop().time() < deadline:
        async with deliveries.pool.acquire() as conn:
            delivery = await lease_next(conn, delivery["endpoint_id"], LEASE_S)
        if delivery is None:
            break
        await attempt(deliveries, delivery)
    return outcome


async def attempt(deliveries: Deliveries, delivery: asyncpg.Record) -> str:
    """One attempt at a delivery this job holds, recorded and logged; its outcome."""
    settings = deliveries.settings
    attempts = delivery["attempts"]
    sent = await send(deliveries.session, settings, delivery)
    retry_at = _retry_at(sent, attempts + 1, settings.webhook_retry_scale)
    async with deliveries.pool.acquire() as conn:
        recorded = await record_attempt(
            conn, delivery["id"], attempts, sent.attempt,
            retry_at=retry_at, disable_after_s=settings.webhook_disable_after_s,
        )  # fmt: skip
    outcome = _outcome(sent, retry_at) if recorded else "stale"
    log.info(
        "webhook_attempted", delivery_id=delivery["id"], attempt=attempts + 1, outcome=outcome,
        status_code=sent.attempt.status_code, latency_ms=sent.attempt.latency_ms, error=sent.attempt.error,
    )  # fmt: skip
    return outcome


def _retry_at(sent: Sent, attempts_made: int, scale: float) -> datetime | None:
    """When to try again after a failure; None after a success or the last scheduled attempt."""
    code = sent.attempt.status_code
    if code is not None and 200 <= code < 300:
        return None
    delay = retry_delay_s(attempts_made, scale=scale, retry_after_s=sent.retry_after_s)
    # From the answer, not the request: Retry-After counts "after the response is received".
    return None if delay is None else sent.ended_at + timedelta(seconds=delay)


def _outcome(sent: Sent, retry_at: datetime | None) -> str:
    code = sent.attempt.status_code
    if code is not None and 200 <= code < 300:
        return "succeeded"
    return "retrying" if retry_at is not None else "failed"


def deliver_webhook_function() -> Function:
    """The job as arq registers it: no result kept, so the next attempt's job id is free at once
    (the database, not the result, tells a finished attempt). The job never raises, so arq re-runs it
    only after a kill or a cancel (about JOB_TIMEOUT_S + 10 s later, before the lease expires); past
    KILLED_RUNS the delivery's lease expiring hands it out again anyway."""
    return func(
        deliver_webhook, name=DELIVER_WEBHOOK_JOB, keep_result=0, timeout=JOB_TIMEOUT_S, max_tries=KILLED_RUNS
    )
