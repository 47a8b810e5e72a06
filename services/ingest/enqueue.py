"""The ingest side of the queue: EVALSHAs pipelined over a few dedicated connections, a bounded wait;
with sentinels, a WAIT for the replicas behind each batch, so that a 2xx survives a failover."""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from shared.config import Settings
from shared.errors import Unavailable
from shared.models import QueuedEvent
from shared.queue import ENQUEUE_LUA, enqueue_command, event_job
from shared.redis_connection import Barrier
from shared.redis_pipe import RedisPipe, pack_command, pipe_for
from shared.web import queue_key, settings_key

log = structlog.get_logger(__name__)

# Senders time out after 10-30 s; answering 503 quickly lets them retry instead of hanging.
ENQUEUE_TIMEOUT_S = 3.0
RETRY_AFTER_S = "5"
# Group commit: the enqueues of one event-loop tick leave together, spread over a few connections
# so that Redis reads them all in one turn and covers them with one AOF fsync; a tick's commands
# don't wait for an earlier tick's reply (shared/redis_pipe.py).
CONNECTIONS = 4


class ReplicasBehind(RedisError):
    """WAIT answered fewer replicas than required: the job may be on the primary only."""


def replica_barrier(settings: Settings) -> Barrier | None:
    """`WAIT <replicas> <ms>` after each batch of enqueues, when sentinels (so replicas) are set.

    WAIT covers every earlier write of its connection, so one per batch covers all of its jobs,
    and it costs one replica round trip on the same write, not another client round trip.
    """
    wanted = settings.redis_wait_replicas
    if not settings.redis_sentinels or not wanted:
        return None

    def check(acknowledged: int) -> None:
        if acknowledged < wanted:
            raise ReplicasBehind(f"{acknowledged} of {wanted} replicas acknowledged the enqueue")

    return Barrier(pack_command(b"WAIT", b"%d" % wanted, b"%d" % settings.redis_wait_timeout_ms), check)


def queue_pipe(settings: Settings, timeout_s: float = ENQUEUE_TIMEOUT_S) -> RedisPipe:
    """The process's queue writer; no I/O until the first enqueue (the app starts while Redis is down)."""
    barrier = replica_barrier(settings)
    if barrier is not None:  # the WAIT's own timeout must not count against Redis answering
        timeout_s += settings.redis_wait_timeout_ms / 1000
    return pipe_for(
        settings, timeout_s=timeout_s, connections=CONNECTIONS, scripts=(ENQUEUE_LUA,), barrier=barrier
    )


async def queue_ctx(app: web.Application) -> AsyncIterator[None]:
    """The process's queue writer."""
    pipe = queue_pipe(app[settings_key])
    app[queue_key] = pipe
    yield
    await pipe.aclose()


async def enqueue(pipe: RedisPipe, queue_name: str, event: QueuedEvent) -> str:
    """Put the event on the queue or raise Unavailable (503) so the sender retries.

    Returns only once Redis has answered, i.e. (appendfsync always) once the job is on disk. A
    duplicate (already queued or done) is a success too; a timed-out job may still land, and its
    id makes the sender's retry harmless.
    """
    job = event_job(event)
    try:
        await pipe.call(enqueue_command(job, queue_name))
    except (RedisError, OSError) as exc:
        log.warning("enqueue_failed", error=type(exc).__name__)
        raise Unavailable(
            "the queue is unavailable; retry later", headers={"Retry-After": RETRY_AFTER_S}
        ) from None
    return job.job_id
