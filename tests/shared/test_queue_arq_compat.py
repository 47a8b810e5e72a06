"""shared/queue against the installed arq: arq's own enqueue_job and Worker with our job format and claim.

What shared/queue takes from arq (docstrings of shared/queue/enqueue.py and claim.py): its key names,
its job envelope, the way its Worker hands a poll's ids to start_jobs and counts tries. An arq
release that changes any of these must fail here before it reaches a queue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import arq.constants
import pytest
from arq import Retry
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus
from arq.worker import Worker, func

from shared.config import Settings
from shared.models import QueuedEvent
from shared.queue import (
    STORE_CONVERSATION_JOB,
    BatchClaimWorker,
    create_arq_pool,
    encode_event,
    enqueue_event,
    job_deserializer,
    job_id_for,
    queued_event_decoder,
    redis_settings,
)
from tests.shared.test_queue import burst, event

KEEP_RESULT_S = 60
JobFunction = Callable[..., Awaitable[str]]


@pytest.fixture
async def arq_pool(settings: Settings) -> AsyncIterator[ArqRedis]:
    """arq's own client, configured as ours."""
    pool = await create_arq_pool(settings)
    yield pool
    await pool.aclose()


async def run_burst(
    settings: Settings, function: JobFunction, worker_class: type[Worker] = Worker, **kwargs: Any
) -> Worker:
    """Drain the queue with arq's Worker (or ours), results kept KEEP_RESULT_S."""
    return await burst(settings, function, worker_class, keep_result=KEEP_RESULT_S, **kwargs)


def test_arq_keeps_the_key_names_and_expiry_we_rely_on() -> None:
    # Tests, docs and operators read these keys by name (arq:retry:<id> in test_dead_letters, ...).
    assert arq.constants.job_key_prefix == "arq:job:"
    assert arq.constants.result_key_prefix == "arq:result:"
    assert arq.constants.retry_key_prefix == "arq:retry:"
    assert arq.constants.in_progress_key_prefix == "arq:in-progress:"
    assert arq.constants.expires_extra_ms == 86_400_000


async def test_arq_reads_a_job_our_script_enqueued(arq_pool: ArqRedis, settings: Settings) -> None:
    sent = event("call-ours")
    job_id = await enqueue_event(arq_pool, sent)
    job = Job(job_id, arq_pool, _queue_name=settings.queue_name, _deserializer=job_deserializer)
    assert await job.status() == JobStatus.queued
    info = await job.info()
    assert info is not None
    assert (info.function, tuple(info.args), info.kwargs, info.job_try) == (
        STORE_CONVERSATION_JOB,
        (encode_event(sent),),
        {},
        None,
    )
    assert info.score == int(info.enqueue_time.timestamp() * 1000)
    # arq's enqueue_job refuses our id as taken.
    assert await arq_pool.enqueue_job(STORE_CONVERSATION_JOB, b"copy", _job_id=job_id) is None


async def test_arqs_worker_runs_a_job_our_script_enqueued(arq_pool: ArqRedis, settings: Settings) -> None:
    sent = event("call-ours")
    job_id = await enqueue_event(arq_pool, sent)
    seen: list[tuple[QueuedEvent, str, int]] = []

    async def store(ctx: dict[str, Any], payload: bytes) -> str:
        seen.append((queued_event_decoder.decode(payload), ctx["job_id"], ctx["job_try"]))
        return "stored"

    worker = await run_burst(settings, store)
    assert seen == [(sent, job_id, 1)]
    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    await _assert_finished_as_arq_does(arq_pool, settings, job_id, "stored")


async def test_our_claim_runs_jobs_arqs_enqueue_job_queued(arq_pool: ArqRedis, settings: Settings) -> None:
    sent = [event(f"call-{n}") for n in range(7)]
    for one in sent:
        job_id = job_id_for(one)
        assert await arq_pool.enqueue_job(STORE_CONVERSATION_JOB, encode_event(one), _job_id=job_id)
    seen: list[QueuedEvent] = []
    in_progress_ttls: list[int] = []

    async def store(ctx: dict[str, Any], payload: bytes) -> str:
        seen.append(queued_event_decoder.decode(payload))
        in_progress_ttls.append(await arq_pool.pttl(arq.constants.in_progress_key_prefix + ctx["job_id"]))
        return "stored"

    # max_jobs below the number of jobs: the claim must hand each slot back for the rest to run.
    worker = await run_burst(settings, store, BatchClaimWorker, max_jobs=2, job_timeout=5)
    assert sorted(e.conversation.provider_call_id for e in seen) == [f"call-{n}" for n in range(7)]
    assert (worker.jobs_complete, worker.jobs_failed, worker.job_counter) == (7, 0, 0)
    # The in-progress key lives as long as arq's own claim would keep it (job timeout + 10 s).
    assert all(14_000 < ttl <= 15_000 for ttl in in_progress_ttls)
    for one in sent:
        await _assert_finished_as_arq_does(arq_pool, settings, job_id_for(one), "stored")


async def test_our_claim_leaves_retries_and_tries_to_arq(arq_pool: ArqRedis, settings: Settings) -> None:
    sent = event("call-retried")
    job_id = await enqueue_event(arq_pool, sent)
    await arq_pool.set(arq.constants.retry_key_prefix + job_id, 3)  # as after three pickups
    tries: list[int] = []

    async def store(ctx: dict[str, Any], payload: bytes) -> str:
        tries.append(ctx["job_try"])
        if len(tries) == 1:
            assert await arq_pool.get(arq.constants.retry_key_prefix + job_id) == b"4"
            raise Retry(defer=0.05)
        return "stored"

    worker = await run_burst(settings, store, BatchClaimWorker)
    assert tries == [4, 5]  # what the worker's counted_tries starts from
    assert (worker.jobs_retried, worker.jobs_complete) == (1, 1)
    await _assert_finished_as_arq_does(arq_pool, settings, job_id, "stored")


async def _assert_finished_as_arq_does(
    arq_pool: ArqRedis, settings: Settings, job_id: str, result: str
) -> None:
    """Off the queue, its job, retry and in-progress keys gone, its result where arq's Job finds it."""
    assert await arq_pool.zscore(settings.queue_name, job_id) is None
    for prefix in (arq.constants.job_key_prefix, arq.constants.retry_key_prefix):
        assert await arq_pool.exists(prefix + job_id) == 0
    assert await arq_pool.exists(arq.constants.in_progress_key_prefix + job_id) == 0
    result_key = arq.constants.result_key_prefix + job_id
    assert 0 < await arq_pool.pttl(result_key) <= KEEP_RESULT_S * 1000
    job = Job(job_id, arq_pool, _queue_name=settings.queue_name, _deserializer=job_deserializer)
    assert await job.status() == JobStatus.complete
    assert await job.result(timeout=1) == result


async def test_our_claim_holds_a_conversation_for_its_own_timeout(settings: Settings) -> None:
    async def slow(ctx: dict[str, Any]) -> str:
        return "slow"

    async def store(ctx: dict[str, Any], payload: bytes) -> str:
        return "stored"

    worker = BatchClaimWorker(
        functions=[func(store, name=STORE_CONVERSATION_JOB, timeout=5), func(slow, name="slow", timeout=30)],
        redis_settings=redis_settings(settings),
        handle_signals=False,
    )
    assert worker.in_progress_timeout_s == 40  # arq's one TTL: the longest timeout + 10 s
    # A killed worker's conversations come back after their own 5 + 10 s, not the slow job's 40 s.
    assert worker.in_progress_ttl_ms(job_id_for(event("call-ttl"))) == 15_000
    assert worker.in_progress_ttl_ms("slow:1") == 40_000
