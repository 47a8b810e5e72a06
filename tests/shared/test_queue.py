"""The queue protocol: job ids and replays, the one-round-trip enqueue and claim, the counted tries."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
from arq.connections import ArqRedis
from arq.constants import expires_extra_ms, in_progress_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker, func
from redis.asyncio.connection import Connection

from shared.config import Settings
from shared.models import FinishedConversation, QueuedEvent
from shared.queue import (
    CLAIM_LUA,
    ENQUEUE_SHA,
    STORE_CONVERSATION_JOB,
    JobIdParts,
    count_transient_retry,
    counted_tries,
    create_arq_pool,
    enqueue_command,
    enqueue_event,
    enqueue_once,
    event_job,
    forget_transient_retries,
    job_deserializer,
    job_id_for,
    job_serializer,
    parse_job_id,
    queued_event_decoder,
    redis_settings,
    replay_suffix,
)
from shared.redis_pipe import pack_command

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def event(call_id: str = "call-q1", body: bytes = b'{"call": 1}') -> QueuedEvent:
    """A small queued event; the body changes the job id, the call id names it."""
    conversation = FinishedConversation(
        source="phone",
        provider_call_id=call_id,
        channel="phone",
        event_type="call.finished",
        event_rank=1,
        event_at=T0,
        started_at=T0,
        ended_at=T0,
    )
    return QueuedEvent(conversation=conversation, raw_body=body, received_at=T0, delivery_id="msg_1")


@pytest.fixture
async def arq_pool(settings: Settings) -> AsyncIterator[ArqRedis]:
    """A producer client, as the CLI and worker tests build it."""
    pool = await create_arq_pool(settings)
    yield pool
    await pool.aclose()


async def run_burst(settings: Settings, seen: list[QueuedEvent]) -> Worker:
    """A plain arq Worker that decodes each store_conversation argument into `seen`."""

    async def store(ctx: dict[str, Any], payload: bytes) -> str:
        seen.append(queued_event_decoder.decode(payload))
        return "stored"

    return await burst(settings, store)


async def burst(
    settings: Settings,
    function: Callable[..., Awaitable[str]],
    worker_class: type[Worker] = Worker,
    **kwargs: Any,
) -> Worker:
    """Drain the queue with arq's Worker (or ours) running `function` as store_conversation."""
    worker = worker_class(
        functions=[func(function, name=STORE_CONVERSATION_JOB)],
        redis_settings=redis_settings(settings),
        queue_name=settings.queue_name,
        job_serializer=job_serializer,
        job_deserializer=job_deserializer,
        burst=True,
        poll_delay=0.01,
        handle_signals=False,
        **kwargs,
    )
    try:
        async with asyncio.timeout(30):  # a claim that never frees its slot would hang here
            await worker.async_run()
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # arq 0.28 calls redis-py's close()
            await worker.close()
    return worker


async def test_arq_worker_runs_the_job_with_its_argument(arq_pool: ArqRedis, settings: Settings) -> None:
    sent = event()
    job_id = await enqueue_event(arq_pool, sent)
    assert job_id == job_id_for(sent)
    seen: list[QueuedEvent] = []
    worker = await run_burst(settings, seen)
    assert seen == [sent]
    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    assert await arq_pool.zcard(settings.queue_name) == 0


async def test_job_bytes_and_expiry_match_arqs_own_enqueue(
    arq_pool: ArqRedis, redis_client: aioredis.Redis, settings: Settings
) -> None:
    payload = b"\x01payload"
    assert await enqueue_once(arq_pool, "ours", STORE_CONVERSATION_JOB, payload)
    assert await arq_pool.enqueue_job(STORE_CONVERSATION_JOB, payload, _job_id="arqs") is not None
    ours = job_deserializer(await redis_client.get("arq:job:ours"))
    theirs = job_deserializer(await redis_client.get("arq:job:arqs"))
    assert abs(ours.pop("et") - theirs.pop("et")) < 5_000
    assert ours == theirs == {"t": None, "f": STORE_CONVERSATION_JOB, "a": [payload], "k": {}}
    ttl_ours, ttl_theirs = await redis_client.pttl("arq:job:ours"), await redis_client.pttl("arq:job:arqs")
    assert expires_extra_ms - 5_000 < ttl_ours <= expires_extra_ms
    assert abs(ttl_ours - ttl_theirs) < 5_000
    scores = dict(await redis_client.zrange(settings.queue_name, 0, -1, withscores=True))
    assert abs(scores[b"ours"] - scores[b"arqs"]) < 5_000
    assert scores[b"ours"] == ours_et_from(await redis_client.get("arq:job:ours"))


def ours_et_from(raw: bytes) -> float:
    """The enqueue time written into the job, which arq also uses as the queue score."""
    return float(job_deserializer(raw)["et"])


async def test_duplicate_is_refused_while_queued(
    arq_pool: ArqRedis, redis_client: aioredis.Redis, settings: Settings
) -> None:
    first = await enqueue_once(arq_pool, "dup", STORE_CONVERSATION_JOB, b"first")
    copies = await asyncio.gather(
        *(enqueue_once(arq_pool, "dup", STORE_CONVERSATION_JOB, b"copy") for _ in range(20))
    )
    assert (first, set(copies)) == (True, {False})
    assert await redis_client.zcard(settings.queue_name) == 1
    assert job_deserializer(await redis_client.get("arq:job:dup"))["a"] == [b"first"]
    # arq's own enqueue sees our job as taken, and ours sees arq's.
    assert await arq_pool.enqueue_job(STORE_CONVERSATION_JOB, b"x", _job_id="dup") is None
    assert await arq_pool.enqueue_job(STORE_CONVERSATION_JOB, b"x", _job_id="theirs") is not None
    assert not await enqueue_once(arq_pool, "theirs", STORE_CONVERSATION_JOB, b"y")


async def test_duplicate_is_refused_while_a_result_exists(
    arq_pool: ArqRedis, redis_client: aioredis.Redis, settings: Settings
) -> None:
    sent = event("call-done")
    job_id = await enqueue_event(arq_pool, sent)
    seen: list[QueuedEvent] = []
    await run_burst(settings, seen)
    assert seen == [sent]
    assert await redis_client.exists(f"arq:result:{job_id}") == 1
    assert not await enqueue_once(arq_pool, job_id, STORE_CONVERSATION_JOB, b"again")
    assert await redis_client.zcard(settings.queue_name) == 0
    assert await redis_client.exists(f"arq:job:{job_id}") == 0
    # A changed body is a different job and is queued.
    assert await enqueue_event(arq_pool, event("call-done", b'{"call": 2}')) != job_id
    assert await redis_client.zcard(settings.queue_name) == 1


async def test_script_flush_does_not_break_enqueue(
    arq_pool: ArqRedis, redis_client: aioredis.Redis, settings: Settings
) -> None:
    assert await enqueue_once(arq_pool, "before", STORE_CONVERSATION_JOB, b"a")
    await redis_client.script_flush()  # what a Redis restart does to the script cache
    assert await enqueue_once(arq_pool, "after", STORE_CONVERSATION_JOB, b"b")
    assert set(await redis_client.zrange(settings.queue_name, 0, -1)) == {b"before", b"after"}


def test_pack_command_is_the_resp_redis_py_sends() -> None:
    args = (b"EVALSHA", ENQUEUE_SHA.encode(), b"3", b"k1", b"k2", b"q", b"\x00\xff" * 5000, b"86400000", b"")
    packed = Connection().pack_command(*args)  # redis-py splits large values into several chunks
    assert pack_command(*args) == b"".join(packed)


async def test_enqueue_command_writes_the_same_job_as_enqueue_once(
    arq_pool: ArqRedis, redis_client: aioredis.Redis, settings: Settings
) -> None:
    sent = event("call-raw")
    job = event_job(sent)
    reply = await redis_client.execute_command(*_split_resp(enqueue_command(job, settings.queue_name)))
    assert reply == 1
    assert not await enqueue_once(arq_pool, job.job_id, STORE_CONVERSATION_JOB, b"copy")  # same key
    seen: list[QueuedEvent] = []
    await run_burst(settings, seen)
    assert seen == [sent]


def _split_resp(command: bytes) -> list[bytes]:
    """The bulk strings of one packed RESP command (so redis-py can send it again, unchanged)."""
    head, _, rest = command.partition(b"\r\n")
    args = []
    for _ in range(int(head[1:])):
        size, _, rest = rest.partition(b"\r\n")
        length = int(size[1:])
        args.append(rest[:length])
        rest = rest[length + 2 :]
    assert rest == b""
    return args


def test_job_id_names_the_event_and_changes_with_its_body() -> None:
    job_id = job_id_for(event("call-7"))
    assert job_id.startswith("conv:phone:call-7:1:")
    assert len(job_id.rsplit(":", 1)[1]) == 16  # the body digest, hex
    assert job_id_for(event("call-7")) == job_id
    assert job_id_for(event("call-7", b'{"call": 2}')) != job_id


@pytest.mark.parametrize(
    ("call_id", "replay_count"), [("call-1", 0), ("call:with:colons", 0), ("c:replay:9", 2), ("", 1)]
)
def test_parse_job_id_reads_back_what_job_id_for_built(call_id: str, replay_count: int) -> None:
    suffix = replay_suffix(replay_count) if replay_count else ""
    parsed = parse_job_id(job_id_for(event(call_id), suffix))
    assert parsed == JobIdParts("phone", call_id, replay_count)


@pytest.mark.parametrize(
    "job_id", ["", "conv", "conv:phone:call-1", "conv:phone:call:1", "cron:sweep_queue:1:2:3", "abc:replay:1"]
)
def test_parse_job_id_refuses_ids_it_did_not_make(job_id: str) -> None:
    assert parse_job_id(job_id) is None


def test_replay_suffix_makes_a_new_job_of_the_same_event() -> None:
    sent = event("call-r")
    assert job_id_for(sent, replay_suffix(3)) == job_id_for(sent) + ":replay:3"
    assert job_id_for(sent, replay_suffix(3)) != job_id_for(sent, replay_suffix(4))


async def test_claims_only_due_jobs_not_running_elsewhere(settings: Settings, arq_pool: ArqRedis) -> None:
    for job_id in ("due", "running", "deferred"):
        await arq_pool.enqueue_job(
            "store_conversation", b"x", _job_id=job_id, _defer_by=60 if job_id == "deferred" else None
        )
    await arq_pool.psetex(in_progress_key_prefix + "running", 10_000, b"1")
    await arq_pool.enqueue_job("store_conversation", b"x", _job_id="due-too")
    ttls = {"due": "15000", "running": "15000", "deferred": "15000", "finished": "15000", "due-too": "40000"}
    args = [in_progress_key_prefix, str(timestamp_ms()), *(part for pair in ttls.items() for part in pair)]
    claimed = await arq_pool.eval(CLAIM_LUA, 1, settings.queue_name, *args)  # type: ignore[misc]
    assert claimed[::2] == [b"due", b"due-too"]
    assert float(claimed[1]) == await arq_pool.zscore(settings.queue_name, "due")
    assert 14_000 < await arq_pool.pttl(in_progress_key_prefix + "due") <= 15_000
    assert 39_000 < await arq_pool.pttl(in_progress_key_prefix + "due-too") <= 40_000  # each its own TTL
    assert await arq_pool.exists(in_progress_key_prefix + "deferred") == 0
    assert await arq_pool.exists(in_progress_key_prefix + "finished") == 0
    assert await arq_pool.exists(in_progress_key_prefix + "running") == 1


async def test_transient_retries_are_not_counted_as_tries(arq_pool: ArqRedis) -> None:
    assert await counted_tries(arq_pool, "job-a", 1) == 1
    assert await counted_tries(arq_pool, "job-a", 4) == 4
    assert [await count_transient_retry(arq_pool, "job-a") for _ in range(3)] == [1, 2, 3]
    assert 0 < await arq_pool.ttl("ringready:transient:job-a") <= 7 * 24 * 3600
    assert await counted_tries(arq_pool, "job-a", 4) == 1
    assert await counted_tries(arq_pool, "job-b", 4) == 4  # another job's count is its own


async def test_forgetting_transient_retries_skips_a_first_try(arq_pool: ArqRedis) -> None:
    await count_transient_retry(arq_pool, "job-c")
    await forget_transient_retries(arq_pool, "job-c", 1)  # a first try has no count: no round trip
    assert await arq_pool.exists("ringready:transient:job-c") == 1
    await forget_transient_retries(arq_pool, "job-c", 2)
    assert await arq_pool.exists("ringready:transient:job-c") == 0
