"""The enqueue: arq's enqueue_job in one round trip, for the ingest's hot path and the CLI.

ENQUEUE_LUA mirrors `ArqRedis.enqueue_job` of arq 0.28.0 (arq/connections.py) for an undeferred
job without `_expires` or `_job_try`: WATCH + EXISTS + MULTI/PSETEX/ZADD/EXEC become one EVALSHA,
i.e. one AOF write and one fsync under appendfsync always. Same keys (`arq:job:<id>`, checked with
`arq:result:<id>`, the queue sorted set), same values (arq's `serialize_job` envelope, expiry
`expires_extra_ms`, score = enqueue time), same "already queued or has a result -> do nothing"
rule, so arq's Worker reads these jobs unchanged (tests/shared/test_queue_arq_compat.py).
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from arq.connections import ArqRedis
from arq.constants import expires_extra_ms, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.commands.core import AsyncScript

from shared.models import QueuedEvent
from shared.queue.format import STORE_CONVERSATION_JOB, encode_event, job_serializer
from shared.queue.job_ids import job_id_for
from shared.redis_pipe import pack_command

# KEYS: job key, result key, queue. ARGV: serialized job, expiry ms, score ms, job id.
ENQUEUE_LUA = b"""
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then
  return 0
end
redis.call('PSETEX', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
"""
# What SCRIPT LOAD returns for it: lets a writer send EVALSHA without asking Redis first.
ENQUEUE_SHA = hashlib.sha1(ENQUEUE_LUA, usedforsecurity=False).hexdigest()
_ENQUEUE_SHA_BYTES = ENQUEUE_SHA.encode()
# One script object per client: it remembers the SHA and reloads the script on NOSCRIPT (after a
# Redis restart or SCRIPT FLUSH).
_scripts: WeakKeyDictionary[ArqRedis, AsyncScript] = WeakKeyDictionary()

# (job key, result key, queue), (job bytes, expiry ms, score ms, job id)
ScriptCall = tuple[tuple[str, str, str], tuple[bytes, int, int, str]]


class Job(NamedTuple):
    """One job: arq's enqueue_job(function, *args, _job_id=job_id)."""

    job_id: str
    function: str
    args: tuple[Any, ...]


def _script(arq: ArqRedis) -> AsyncScript:
    script = _scripts.get(arq)
    if script is None:
        script = _scripts[arq] = arq.register_script(ENQUEUE_LUA)
    return script


def job_script_args(job: Job, queue_name: str) -> ScriptCall:
    """KEYS and ARGV of ENQUEUE_LUA: arq's job bytes, expiry and score for an undeferred job."""
    enqueue_time_ms = timestamp_ms()
    data = serialize_job(job.function, job.args, {}, None, enqueue_time_ms, serializer=job_serializer)
    keys = (job_key_prefix + job.job_id, result_key_prefix + job.job_id, queue_name)
    # arq: expires = score - enqueue time + expires_extra_ms, i.e. 24 h for an undeferred job.
    return keys, (data, expires_extra_ms, enqueue_time_ms, job.job_id)


def enqueue_command(job: Job, queue_name: str) -> bytes:
    """enqueue_once's EVALSHA for the job as RESP bytes, for writers that pipeline their own."""
    (job_key, result_key, queue), (data, expires_ms, score_ms, job_id) = job_script_args(job, queue_name)
    return pack_command(
        b"EVALSHA",
        _ENQUEUE_SHA_BYTES,
        b"3",
        job_key.encode(),
        result_key.encode(),
        queue.encode(),
        data,
        b"%d" % expires_ms,
        b"%d" % score_ms,
        job_id.encode(),
    )


async def enqueue_once(arq: ArqRedis, job_id: str, function: str, *args: Any) -> bool:
    """arq's enqueue_job(function, *args, _job_id=job_id) in one round trip; False if a duplicate."""
    keys, argv = job_script_args(Job(job_id, function, args), arq.default_queue_name)
    return bool(await _script(arq)(keys, argv))


def event_job(event: QueuedEvent, suffix: str = "") -> Job:
    """The store_conversation job for an event, under its deduplicating id."""
    return Job(job_id_for(event, suffix), STORE_CONVERSATION_JOB, (encode_event(event),))


async def enqueue_event(arq: ArqRedis, event: QueuedEvent, suffix: str = "") -> str:
    """Put the event on the queue; returns its job id (also when it was already queued)."""
    job = event_job(event, suffix)
    await enqueue_once(arq, job.job_id, job.function, *job.args)
    return job.job_id
