"""Which failures are transient, how long to wait, and the per-job count of transient retries.

Transient retries (Postgres or Redis away) must not use up the job's tries: only kills,
timeouts of our own making and crashes do. arq counts every pickup in ctx["job_try"], so we
keep our own count of transient retries and subtract it.
"""

from __future__ import annotations

import asyncio
import random

import asyncpg
import redis.exceptions
from arq.connections import ArqRedis

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, and TimeoutError (pool acquire, our job budget)
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.OperatorInterventionError,  # class 57: admin shutdown, cannot connect now, crash
    asyncpg.InsufficientResourcesError,  # class 53: too many connections, disk full
    asyncpg.TransactionRollbackError,  # class 40: deadlock, serialization failure
    asyncpg.exceptions.ConnectionDoesNotExistError,  # connection lost mid-query
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 10.0
COUNTER_PREFIX = "ringready:transient:"
COUNTER_TTL_S = 7 * 24 * 3600


def is_transient(err: BaseException) -> bool:
    """True for errors that go away by themselves (a server restarting, a full pool)."""
    return isinstance(err, TRANSIENT_ERRORS)


def backoff_s(attempt: int) -> float:
    """Capped exponential backoff with a little jitter so retries don't arrive in lockstep."""
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** max(0, attempt - 1))
    return delay * (1 + random.random() / 5)  # noqa: S311 - jitter, not crypto


async def transient_retries(redis: ArqRedis, job_id: str) -> int:
    """How many of this job's tries were transient retries."""
    value = await redis.get(COUNTER_PREFIX + job_id)
    return int(value) if value else 0


async def count_transient_retry(redis: ArqRedis, job_id: str) -> int:
    """Record one more transient retry; returns the new count."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(COUNTER_PREFIX + job_id)
        pipe.expire(COUNTER_PREFIX + job_id, COUNTER_TTL_S)
        count, _ = await pipe.execute()
    return int(count)


async def forget_transient_retries(redis: ArqRedis, job_id: str) -> None:
    """The job is done; drop its counter."""
    await redis.delete(COUNTER_PREFIX + job_id)
