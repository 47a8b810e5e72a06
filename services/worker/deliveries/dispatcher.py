"""The dispatcher: every webhook_dispatch_interval_ms, and as soon as this worker process has stored
a conversation, fan new outbox events out to their endpoints and enqueue a deliver_webhook job for
each lane of deliveries that is due.

The outbox row is the truth. A crash between a commit and an enqueue loses nothing: the delivery
stays pending, its lease expires, and the next pass enqueues it again under the same job id (so a
copy still waiting in the queue is not doubled).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import structlog
from arq.connections import ArqRedis

from services.worker.deliveries.job import DELIVER_WEBHOOK_JOB, LEASE_S, job_id
from services.worker.deliveries.state import Deliveries
from services.worker.retries import TRANSIENT_ERRORS
from shared.db.webhook_deliveries import dispatch, prune
from shared.queue import enqueue_once

log = structlog.get_logger(__name__)

PRUNE_EVERY_S = 3600.0  # the retention sweep; every worker runs it, deleting twice is harmless
FAN_OUT_LIMIT = 1000  # events per pass; the next pass takes the rest
LANE_WIDTH = 25  # deliveries a job sends at once (docs/BENCHMARKS.md, "Webhooks out")
MIN_GAP_S = 0.01  # between passes, however often stored conversations wake the dispatcher


async def dispatch_once(deliveries: Deliveries, arq: ArqRedis) -> int:
    """One pass; the number of jobs enqueued, each a lane of one endpoint's deliveries (copies
    already queued are not counted)."""
    settings = deliveries.settings
    async with deliveries.pool.acquire() as conn:
        due = await dispatch(
            conn,
            fan_out_limit=FAN_OUT_LIMIT,
            lease_s=LEASE_S,
            per_endpoint=settings.webhook_endpoint_concurrency,
        )
    # Concurrently: one round trip each, so a pass takes one round trip, not one per job.
    enqueued = await asyncio.gather(
        *(
            enqueue_once(arq, job_id(lane[0]["id"], lane[0]["attempts"]), DELIVER_WEBHOOK_JOB,
                         [row["id"] for row in lane], [row["attempts"] for row in lane])
            for lane in lanes(due)
        )
    )  # fmt: skip
    return sum(enqueued)


def lanes(due: list[asyncpg.Record]) -> list[list[asyncpg.Record]]:
    """The leased deliveries as jobs: each endpoint's, oldest first, LANE_WIDTH to a job (a few
    jobs, not one, so that several worker processes can share a busy endpoint)."""
    by_endpoint: dict[int, list[asyncpg.Record]] = {}
    for row in sorted(due, key=lambda row: row["id"]):
        by_endpoint.setdefault(row["endpoint_id"], []).append(row)
    return [
        rows[n : n + LANE_WIDTH] for rows in by_endpoint.values() for n in range(0, len(rows), LANE_WIDTH)
    ]


async def prune_log(deliveries: Deliveries) -> int:
    """The retention sweep: events past retention, with their deliveries and attempts."""
    async with deliveries.pool.acquire() as conn:
        pruned = await prune(conn)
    if pruned:
        log.info("webhook_log_pruned", events=pruned)
    return pruned


async def run(deliveries: Deliveries, arq: ArqRedis) -> None:
    """Dispatch forever: every interval, or at once (MIN_GAP_S apart) when this process stored a
    conversation; and prune hourly. An outage only skips passes."""
    interval_s = deliveries.settings.webhook_dispatch_interval_ms / 1000
    loop = asyncio.get_running_loop()
    next_prune = loop.time() + interval_s  # not at once: a starting worker has enough to do
    while True:
        try:
            await dispatch_once(deliveries, arq)
            if loop.time() >= next_prune:
                next_prune = loop.time() + PRUNE_EVERY_S
                await prune_log(deliveries)
        except TRANSIENT_ERRORS as err:
            log.warning("webhook_dispatch_failed", error=repr(err))
        except Exception:
            log.exception("webhook_dispatch_failed")
        await _next_pass(deliveries.due, interval_s)


async def _next_pass(due: asyncio.Event, interval_s: float) -> None:
    """Wait for the interval's end, or for a stored conversation (but at least MIN_GAP_S, so a busy
    worker makes one pass for many conversations rather than one each)."""
    await asyncio.sleep(MIN_GAP_S)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(due.wait(), max(0.0, interval_s - MIN_GAP_S))
    due.clear()


@contextlib.asynccontextmanager
async def running(deliveries: Deliveries, arq: ArqRedis) -> AsyncIterator[None]:
    """The dispatcher as a background task for the life of the block."""
    task = asyncio.create_task(run(deliveries, arq), name="webhook_dispatcher")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
