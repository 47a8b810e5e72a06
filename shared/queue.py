"""The queue between ingest and worker: arq on Redis, msgpack job payloads, the _job_id rule."""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

import msgspec
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import expires_extra_ms, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.commands.core import AsyncScript

from shared.config import Settings
from shared.models import QueuedEvent
from shared.redis_pipe import pack_command

STORE_CONVERSATION_JOB = "store_conversation"

_msgpack_encoder = msgspec.msgpack.Encoder()
_msgpack_decoder = msgspec.msgpack.Decoder()
queued_event_decoder = msgspec.msgpack.Decoder(QueuedEvent)

# arq's ArqRedis.enqueue_job in one round trip: WATCH + EXISTS + MULTI/PSETEX/ZADD/EXEC become one
# EVALSHA, i.e. one AOF write and one fsync under appendfsync always. Same keys, same values, same
# "already queued or has a result -> do nothing" rule, so arq's Worker reads these jobs unchanged.
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


def job_serializer(obj: dict[str, Any]) -> bytes:
    """arq's job envelope as msgpack (pickle would let Redis contents run code)."""
    return _msgpack_encoder.encode(obj)


def job_deserializer(data: bytes) -> dict[str, Any]:
    """Inverse of job_serializer."""
    result: dict[str, Any] = _msgpack_decoder.decode(data)
    return result


def redis_settings(settings: Settings) -> RedisSettings:
    """arq's connection settings from our URL."""
    return RedisSettings.from_dsn(settings.redis_url)


async def create_arq_pool(settings: Settings, **overrides: Any) -> ArqRedis:
    """An ArqRedis client that speaks our serializer and queue name."""
    return await create_pool(
        redis_settings(settings),
        job_serializer=job_serializer,
        job_deserializer=job_deserializer,
        default_queue_name=settings.queue_name,
        **overrides,
    )


def encode_event(event: QueuedEvent) -> bytes:
    """The job argument: one msgpack blob."""
    return _msgpack_encoder.encode(event)


def job_id_for(event: QueuedEvent, suffix: str = "") -> str:
    """Same event, same id: retries and concurrent copies collapse while queued.

    The body hash keeps a changed (richer) delivery of the same rank from being dropped as a copy.
    """
    conv = event.conversation
    digest = hashlib.blake2b(event.raw_body, digest_size=8).hexdigest()
    return f"conv:{conv.source}:{conv.provider_call_id}:{conv.event_rank}:{digest}{suffix}"


def _script(arq: ArqRedis) -> AsyncScript:
    script = _scripts.get(arq)
    if script is None:
        script = _scripts[arq] = arq.register_script(ENQUEUE_LUA)
    return script


# (job key, result key, queue), (job bytes, expiry ms, score ms, job id)
ScriptCall = tuple[tuple[str, str, str], tuple[bytes, int, int, str]]


class Job(NamedTuple):
    """One job: arq's enqueue_job(function, *args, _job_id=job_id)."""

    job_id: str
    function: str
    args: tuple[Any, ...]


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
