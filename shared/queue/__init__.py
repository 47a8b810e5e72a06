"""The queue protocol between ingest and worker, with one owner per part. Built on arq 0.28
(pinned in pyproject.toml); tests/shared/test_queue_arq_compat.py runs arq's own enqueue_job and
Worker against it, so an arq release that would break it fails there first.

- `format`: the job envelope (msgpack), our job name and payload, the arq client;
- `job_ids`: the job id, built and parsed, and the replay suffix;
- `enqueue`: arq's enqueue_job in one round trip (ingest, CLI);
- `claim`: the worker's claim of a poll's jobs in one round trip, and the arq internals it uses;
- `tries`: which of a job's tries count (transient retries don't).
"""

from shared.queue.claim import CLAIM_LUA, BatchClaimWorker
from shared.queue.enqueue import (
    ENQUEUE_LUA,
    ENQUEUE_SHA,
    Job,
    enqueue_command,
    enqueue_event,
    enqueue_once,
    event_job,
    job_script_args,
)
from shared.queue.format import (
    STORE_CONVERSATION_JOB,
    create_arq_pool,
    encode_event,
    job_deserializer,
    job_serializer,
    queued_event_decoder,
    redis_settings,
)
from shared.queue.job_ids import JobIdParts, job_id_for, parse_job_id, replay_suffix
from shared.queue.tries import count_transient_retry, counted_tries, forget_transient_retries

__all__ = [
    "CLAIM_LUA",
    "ENQUEUE_LUA",
    "ENQUEUE_SHA",
    "STORE_CONVERSATION_JOB",
    "BatchClaimWorker",
    "Job",
    "JobIdParts",
    "count_transient_retry",
    "counted_tries",
    "create_arq_pool",
    "encode_event",
    "enqueue_command",
    "enqueue_event",
    "enqueue_once",
    "event_job",
    "forget_transient_retries",
    "job_deserializer",
    "job_id_for",
    "job_script_args",
    "job_serializer",
    "parse_job_id",
    "queued_event_decoder",
    "redis_settings",
    "replay_suffix",
]
