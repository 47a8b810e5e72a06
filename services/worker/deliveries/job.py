"""The deliver_webhook job: one attempt at each of a few leased deliveries of one endpoint, sent
concurrently and recorded together with their outcomes.

The job never raises: whatever happens to the POST becomes an attempt in the log. If recording
fails (Postgres gone), the lease simply expires and the dispatcher hands the delivery out again:
the receiver may then see the same webhook-id twice, which is what at-least-once means.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog
from arq.worker import Function, func

from services.worker.deliveries.send import TIMEOUT_S, Sent, send
from services.worker.deliveries.state import DELIVERIES_CTX, Deliveries
from shared.db.webhook_deliveries import Attempt, deliveries_to_send, record_attempts
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
    """One id per lane, named by its first delivery and attempt: re-enqueueing the same attempt is
    refused while it waits."""
    return f"webhook:{delivery_id}:{attempts}"


async def deliver_webhook(ctx: dict[str, Any], delivery_ids: list[int], attempts: list[int]) -> str:
    """One attempt at each of these leased deliveries of one endpoint, concurrently, unless another
    run already made it; then keep the lane: attempt the endpoint's next due deliveries, as many at
    a time as this job was handed, for up to LANE_BUDGET_S (fewer round trips through the dispatcher
    and the queue; the lane's slots are the endpoint's, so its cap still holds). The first round's
    outcomes, by how many."""
    deliveries: Deliveries = ctx[DELIVERIES_CTX]
    async with deliveries.pool.acquire() as conn:
        held = await deliveries_to_send(conn, delivery_ids, attempts)
    if not held:
        return "stale"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LANE_BUDGET_S
    first, held = await attempt_all(deliveries, held, LEASE_S)
    while held:
        lease_s = LEASE_S if loop.time() < deadline else None  # the lane's last round leases nothing
        _, held = await attempt_all(deliveries, held, lease_s)
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(first.items()))


async def attempt_all(
    deliveries: Deliveries, held: list[asyncpg.Record], lease_s: float | None
) -> tuple[Counter[str], list[asyncpg.Record]]:
    """One attempt at each delivery this job holds, concurrently, recorded in one statement and
    logged; with lease_s, the endpoint's next due ones leased in the same transaction. The outcomes
    and the deliveries now held."""
    settings = deliveries.settings
    sent = await asyncio.gather(*(send(deliveries.session, settings, delivery) for delivery in held))
    attempted = [
        (delivery, s.attempt, _retry_at(s, delivery["attempts"] + 1, settings.webhook_retry_scale))
        for delivery, s in zip(held, sent, strict=True)
    ]
    async with deliveries.pool.acquire() as conn:
        recorded, leased = await record_attempts(
            conn, attempted, disable_after_s=settings.webhook_disable_after_s, lease_s=lease_s
        )
    outcomes: Counter[str] = Counter()
    for delivery, attempt, retry_at in attempted:
        outcome = _outcome(attempt, retry_at) if delivery["id"] in recorded else "stale"
        outcomes[outcome] += 1
        log.info(
            "webhook_attempted", delivery_id=delivery["id"], attempt=delivery["attempts"] + 1,
            outcome=outcome, status_code=attempt.status_code, latency_ms=attempt.latency_ms,
            error=attempt.error,
        )  # fmt: skip
    return outcomes, leased


def _retry_at(sent: Sent, attempts_made: int, scale: float) -> datetime | None:
    """When to try again after a failure; None after a success or the last scheduled attempt."""
    if sent.attempt.succeeded:
        return None
    delay = retry_delay_s(attempts_made, scale=scale, retry_after_s=sent.retry_after_s)
    # From the answer, not the request: Retry-After counts "after the response is received".
    return None if delay is None else sent.ended_at + timedelta(seconds=delay)


def _outcome(attempt: Attempt, retry_at: datetime | None) -> str:
    if attempt.succeeded:
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
