"""What travels on the queue: arq's job envelope in msgpack, our one job name and its payload."""

from __future__ import annotations

from typing import Any

import msgspec
from arq.connections import ArqRedis, RedisSettings, create_pool

from shared.config import Settings
from shared.models import QueuedEvent

STORE_CONVERSATION_JOB = "store_conversation"

_msgpack_encoder = msgspec.msgpack.Encoder()
_msgpack_decoder = msgspec.msgpack.Decoder()
queued_event_decoder = msgspec.msgpack.Decoder(QueuedEvent)


def job_serializer(obj: dict[str, Any]) -> bytes:
    """arq's job envelope as msgpack (pickle would let Redis contents run code)."""
    return _msgpack_encoder.encode(obj)


def job_deserializer(data: bytes) -> dict[str, Any]:
    """Inverse of job_serializer."""
    result: dict[str, Any] = _msgpack_decoder.decode(data)
    return result


def encode_event(event: QueuedEvent) -> bytes:
    """The job argument: one msgpack blob."""
    return _msgpack_encoder.encode(event)


def redis_settings(settings: Settings) -> RedisSettings:
    """arq's connection settings from our URL; with sentinels, arq asks them for the primary
    (redis-py's Sentinel) and the URL gives only the credentials and the database."""
    if not settings.redis_sentinels:
        return RedisSettings.from_dsn(settings.redis_url)
    url = RedisSettings.from_dsn(settings.redis_url or "redis://")
    return RedisSettings(
        host=settings.sentinel_addresses,
        sentinel=True,
        sentinel_master=settings.redis_sentinel_master,
        database=url.database,
        username=url.username,
        password=url.password,
    )


async def create_arq_pool(settings: Settings, **overrides: Any) -> ArqRedis:
    """An ArqRedis client that speaks our serializer and queue name."""
    return await create_pool(
        redis_settings(settings),
        job_serializer=job_serializer,
        job_deserializer=job_deserializer,
        default_queue_name=settings.queue_name,
        **overrides,
    )
