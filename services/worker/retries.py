"""Which failures are transient, and how long to wait before retrying one.

How many transient retries a job has had is counted by the queue protocol (shared/queue/tries.py).
"""

from __future__ import annotations

import asyncio
import random

import asyncpg
import redis.exceptions

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


def is_transient(err: BaseException) -> bool:
    """True for errors that go away by themselves (a server restarting, a full pool)."""
    return isinstance(err, TRANSIENT_ERRORS)


def backoff_s(attempt: int) -> float:
    """Capped exponential backoff with a little jitter so retries don't arrive in lockstep."""
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** max(0, attempt - 1))
    return delay * (1 + random.random() / 5)  # noqa: S311 - jitter, not crypto
