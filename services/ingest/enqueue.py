"""The ingest side of the queue: a client that starts without Redis, group commit, a bounded wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from weakref import WeakKeyDictionary

import structlog
from aiohttp import web
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from shared.config import Settings
from shared.errors import Unavailable
from shared.models import QueuedEvent
from shared.queue import Job, enqueue_batch, event_job, job_deserializer, job_serializer
from shared.web import settings_key

log = structlog.get_logger(__name__)

arq_key = web.AppKey("arq", ArqRedis)
# Senders time out after 10-30 s; answering 503 quickly lets them retry instead of hanging.
ENQUEUE_TIMEOUT_S = 3.0
RETRY_AFTER_S = "5"
# Bounds one pipeline's size (and so one reply's wait); under load batches stay far below it.
MAX_BATCH = 256


class GroupCommit:
    """Enqueues that arrive while a batch is in flight travel together in the next one.

    One pipelined round trip, one connection checkout and one AOF fsync serve many webhooks,
    and every caller still returns only once its own job is in Redis. Idle, a lone request is
    sent at once, so this adds no latency.
    """

    def __init__(self, arq: ArqRedis) -> None:
        self._arq = arq
        self._waiting: list[tuple[Job, asyncio.Future[bool]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def enqueue(self, job: Job) -> bool:
        """Queue the job (False: it was already queued or done); raises what Redis raised."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_all())
        return await future

    async def _send_all(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                await self._send(batch)
        finally:
            self._sender = None

    async def _send(self, batch: list[tuple[Job, asyncio.Future[bool]]]) -> None:
        try:
            async with asyncio.timeout(ENQUEUE_TIMEOUT_S):  # no extra task, unlike wait_for
                results = await enqueue_batch(self._arq, [job for job, _ in batch])
        except Exception as exc:
            for _, future in batch:
                if not future.done():  # a caller that gave up has cancelled its future
                    future.set_exception(exc)
            return
        for (_, future), queued in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(queued)


_groups: WeakKeyDictionary[ArqRedis, GroupCommit] = WeakKeyDictionary()


def arq_client(settings: Settings) -> ArqRedis:
    """An ArqRedis that connects on first use (arq's create_pool pings, so start-up would need Redis)."""
    pool = ConnectionPool.from_url(settings.redis_url, socket_connect_timeout=1.0, socket_timeout=2.0)
    client = ArqRedis(
        pool,
        job_serializer=job_serializer,
        job_deserializer=job_deserializer,
        default_queue_name=settings.queue_name,
    )
    _groups[client] = GroupCommit(client)
    return client


async def arq_ctx(app: web.Application) -> AsyncIterator[None]:
    """The process's queue client."""
    client = arq_client(app[settings_key])
    app[arq_key] = client
    yield
    await client.aclose(close_connection_pool=True)


async def enqueue(arq: ArqRedis, event: QueuedEvent) -> str:
    """Put the event on the queue or raise Unavailable (503) so the sender retries."""
    job = event_job(event)
    group = _groups.get(arq) or _groups.setdefault(arq, GroupCommit(arq))
    try:
        async with asyncio.timeout(ENQUEUE_TIMEOUT_S):
            await group.enqueue(job)
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("enqueue_failed", error=type(exc).__name__)
        raise Unavailable(
            "the queue is unavailable; retry later", headers={"Retry-After": RETRY_AFTER_S}
        ) from None
    return job.job_id
