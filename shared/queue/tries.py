"""The retry count: how many of a job's tries count towards RINGREADY_JOB_MAX_TRIES.

arq counts every pickup of a job in `ctx["job_try"]` (its `arq:retry:<job id>` key), whether
the try was killed, timed out or ended in `arq.Retry`. Transient retries (Postgres or Redis
away) must not use up tries, or an outage would dead-letter everything queued during it. So one
more count is kept beside arq's: the job's transient retries, at `ringready:transient:<job id>`,
and the tries that count are `job_try` minus it. arq's own key is left alone (rewriting it would
tie us to how arq updates it); our count also sets the growing backoff between transient retries.
"""

from __future__ import annotations

from arq.connections import ArqRedis

TRANSIENT_RETRIES_PREFIX = "ringready:transient:"
TRANSIENT_RETRIES_TTL_S = 7 * 24 * 3600  # longer than any outage a queued job waits through


async def counted_tries(redis: ArqRedis, job_id: str, job_try: int) -> int:
    """This try's number, transient retries not counted (a first try costs no round trip)."""
    if job_try <= 1:
        return job_try
    value = await redis.get(TRANSIENT_RETRIES_PREFIX + job_id)
    return job_try - (int(value) if value else 0)


async def count_transient_retry(redis: ArqRedis, job_id: str) -> int:
    """Record one more transient retry; returns the new count."""
    key = TRANSIENT_RETRIES_PREFIX + job_id
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, TRANSIENT_RETRIES_TTL_S)
        count, _ = await pipe.execute()
    return int(count)


async def forget_transient_retries(redis: ArqRedis, job_id: str, job_try: int) -> None:
    """The job is done; drop its count (a first try has none, and costs no round trip)."""
    if job_try > 1:
        await redis.delete(TRANSIENT_RETRIES_PREFIX + job_id)
