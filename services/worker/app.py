"""The worker's arq settings: functions, resources in ctx, delivery guarantees (docs/worker.md)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import redis.exceptions
import structlog
from arq import cron
from arq.connections import RedisSettings
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import ExponentialBackoff

from services.worker.deliveries.job import deliver_webhook_function
from services.worker.deliveries.start import open_deliveries
from services.worker.deliveries.state import close_deliveries
from services.worker.jobs import store_conversation
from services.worker.retries import TRANSIENT_ERRORS
from services.worker.state import STATE_CTX, WorkerState, build_state
from services.worker.sweep import cron_schedule, sweep, sweep_queue
from shared.config import Settings
from shared.db.pool import create_pool
from shared.queue import job_deserializer, job_serializer, redis_settings

log = structlog.get_logger(__name__)

SETTINGS_CTX = "settings"
# arq must never drop a job for having too many tries: our job counts tries itself (minus
# transient retries, shared/queue/tries.py) and dead-letters at settings.job_max_tries.
ARQ_MAX_TRIES = 1_000_000
KEEP_RESULT_S = 3600  # the _job_id dedupe window after completion; Postgres is the real guard
POLL_DELAY_S = 0.05
# Redis restarting: retry commands for about a minute instead of letting the worker die.
REDIS_RETRIES = 60
REDIS_BACKOFF_CAP_S = 1.0
# After SIGTERM's job_completion_wait: how long writing the last batch and closing may take.
CLOSE_TIMEOUT_S = 2.0


async def startup(ctx: dict[str, Any]) -> None:
    """Open the Postgres pool once per process; sweep before the first job is picked."""
    settings: Settings = ctx[SETTINGS_CTX]
    try:
        pool = await create_pool(settings)
    except TRANSIENT_ERRORS as err:
        # Postgres is down: start anyway with a lazy pool; jobs retry until it is back.
        log.warning("postgres_unavailable_at_startup", error=repr(err))
        pool = await create_pool(settings, min_size=0)
    ctx[STATE_CTX] = build_state(settings, pool)
    await open_deliveries(ctx, settings, pool)
    try:
        await sweep(ctx["redis"], ctx[STATE_CTX])
    except TRANSIENT_ERRORS as err:  # the cron sweep will try again
        log.warning("startup_sweep_failed", error=repr(err))


async def shutdown(ctx: dict[str, Any]) -> None:
    """Write what the batcher holds, then close the pool; within CLOSE_TIMEOUT_S, so that a
    Postgres that stopped answering cannot hold the worker past its shutdown bound."""
    state: WorkerState | None = ctx.get(STATE_CTX)
    if state is None:
        return
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await close_deliveries(ctx)
            await state.batcher.drain()
            await state.pool.close()
    except TimeoutError:
        # The jobs of an unwritten batch were cancelled, so arq has put them back on the queue:
        # dropping their transaction loses nothing, and a re-run upserts (never doubles) them.
        log.warning("shutdown_drain_timed_out", timeout_s=CLOSE_TIMEOUT_S)
        state.pool.terminate()


async def on_job_start(ctx: dict[str, Any]) -> None:
    """Each job runs in its own task, so this binding stays with the job."""
    structlog.contextvars.bind_contextvars(job_id=ctx["job_id"], job_try=ctx["job_try"])


def worker_redis_settings(settings: Settings) -> RedisSettings:
    """Our Redis settings plus command retries that ride out a Redis restart."""
    return dataclasses.replace(
        redis_settings(settings),
        # OSError too: a refused connect surfaces as one inside redis-py's retry loop.
        retry_on_error=[redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError],
        retry=RedisRetry(ExponentialBackoff(cap=REDIS_BACKOFF_CAP_S, base=0.05), REDIS_RETRIES),
    )


def worker_settings(settings: Settings) -> dict[str, Any]:
    """kwargs for arq.Worker; tests and `python -m services.worker` share them."""
    sweeper = cron(
        sweep_queue,
        **cron_schedule(settings.sweep_interval_s),  # type: ignore[arg-type]
        unique=True,
        timeout=settings.job_timeout_s,
    )
    return {
        "functions": [store_conversation, deliver_webhook_function()],
        "cron_jobs": [sweeper],
        "queue_name": settings.queue_name,
        "redis_settings": worker_redis_settings(settings),
        "job_serializer": job_serializer,
        "job_deserializer": job_deserializer,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "on_job_start": on_job_start,
        "ctx": {SETTINGS_CTX: settings},
        "max_jobs": settings.worker_max_jobs,
        "job_timeout": settings.job_timeout_s,  # a SIGKILLed job re-runs after this + 10 s
        "max_tries": ARQ_MAX_TRIES,
        "keep_result": KEEP_RESULT_S,
        "poll_delay": POLL_DELAY_S,
        # SIGTERM: pick no more jobs, let those running finish for up to this long, then cancel
        # them; arq puts a cancelled job back on the queue for another worker (RELIABILITY.md).
        "job_completion_wait": settings.shutdown_timeout_s,
        "health_check_interval": settings.health_check_interval_s,
        "handle_signals": True,
    }
