"""The queue sweeper: no job may expire out of the queue unnoticed.

arq gives every job key a lifetime (24 h by default) and drops a queued job whose key has
gone, with nothing but a log line. While Postgres is down our jobs keep retrying, so they can
wait that long. The sweeper renews the lifetime of every queued job that is running low, and
any job whose key has already gone (Redis evicted it, or no worker ran for a day) becomes a
dead letter with reason `expired`, so it is at least visible.
"""

from __future__ import annotations

from typing import Any

import structlog
from arq.connections import ArqRedis
from arq.constants import job_key_prefix

from services.worker.state import STATE_CTX, WorkerState
from shared.db.dead_letters import insert_job_dead_letter

log = structlog.get_logger(__name__)

PAGE = 1000
RENEW_BELOW_MS = 12 * 3600 * 1000
RENEW_TO_MS = 24 * 3600 * 1000


async def sweep_queue(ctx: dict[str, Any]) -> dict[str, int]:
    """One pass over the queue: renew keys running low, dead-letter jobs whose key is gone."""
    state: WorkerState = ctx[STATE_CTX]
    return await sweep(ctx["redis"], state)


async def sweep(redis: ArqRedis, state: WorkerState) -> dict[str, int]:
    """The sweep itself, also run once at worker start-up (before any job is picked)."""
    renewed = expired = 0
    start = 0
    while True:
        ids = [raw.decode() for raw in await redis.zrange(state.settings.queue_name, start, start + PAGE - 1)]
        if not ids:
            break
        async with redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.pttl(job_key_prefix + job_id)
            ttls = await pipe.execute()
        removed = 0
        for job_id, ttl in zip(ids, ttls, strict=True):
            if ttl == -2:
                removed += await _expire(redis, state, job_id)
            elif 0 <= ttl < RENEW_BELOW_MS:
                renewed += int(await redis.pexpire(job_key_prefix + job_id, RENEW_TO_MS))
        expired += removed
        start += len(ids) - removed
    if renewed or expired:
        log.info("queue_swept", renewed=renewed, expired=expired)
    return {"renewed": renewed, "expired": expired}


async def _expire(redis: ArqRedis, state: WorkerState, job_id: str) -> int:
    """Take the job off the queue (once, whoever gets there first) and record it."""
    if not await redis.zrem(state.settings.queue_name, job_id):
        return 0
    detail = "the queued job's payload expired in Redis before a worker ran it"
    await insert_job_dead_letter(state.pool, job_id, reason="expired", detail=detail, payload=b"")
    log.warning("dead_lettered", reason="expired", job_id=job_id)
    return 1


def cron_schedule(interval_s: int) -> dict[str, set[int]]:
    """arq cron fields that fire every interval_s seconds (rounded to what cron can express)."""
    if interval_s < 60:
        step = max(1, interval_s)
        return {"second": set(range(0, 60, step))}
    step = max(1, min(59, interval_s // 60))
    return {"minute": set(range(0, 60, step)), "second": {0}}
