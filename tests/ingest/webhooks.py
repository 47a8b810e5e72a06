"""Helpers for ingest tests: sign bodies as each sender does, post them, read what was queued."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from services.ingest.signatures import sign_standard
from shared.config import Settings
from shared.models import QueuedEvent
from shared.queue import job_deserializer, queued_event_decoder
from tests.helpers import (
    FIXTURES,
    TEST_ELEVENLABS_SECRET,
    TEST_RETELL_API_KEY,
    TEST_VAPI_HMAC_SECRET,
    TEST_VAPI_SECRET,
    TEST_WEBHOOK_SECRET,
)


def sample(name: str) -> bytes:
    """A provider sample from tests/fixtures, byte for byte as a provider would send it."""
    return Path(FIXTURES, name).read_bytes()


def standard_headers(
    body: bytes, msg_id: str = "msg_test_1", timestamp: int | None = None, secret: str = TEST_WEBHOOK_SECRET
) -> dict[str, str]:
    """Standard Webhooks headers for a native delivery."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign_standard(secret, msg_id, ts, body),
    }


def vapi_secret_headers(secret: str = TEST_VAPI_SECRET) -> dict[str, str]:
    """Vapi's static token header."""
    return {"X-Vapi-Secret": secret}


def vapi_hmac_headers(
    body: bytes, timestamp: int | None = None, secret: str = TEST_VAPI_HMAC_SECRET
) -> dict[str, str]:
    """Vapi HMAC credential defaults: hex sha256 of `{timestamp}.{body}`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"x-signature": digest, "x-timestamp": ts}


def retell_headers(
    body: bytes, timestamp_ms: int | None = None, key: str = TEST_RETELL_API_KEY
) -> dict[str, str]:
    """Retell: v=<ms>,d=<hex HMAC(api key, body + ms)>."""
    ts = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    digest = hmac.new(key.encode(), body + ts.encode(), hashlib.sha256).hexdigest()
    return {"x-retell-signature": f"v={ts},d={digest}"}


def elevenlabs_headers(
    body: bytes, timestamp: int | None = None, secret: str = TEST_ELEVENLABS_SECRET
) -> dict[str, str]:
    """ElevenLabs: t=<s>,v0=<hex HMAC(secret, "<t>.<body>")>."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"ElevenLabs-Signature": f"t={ts},v0={digest}"}


def retell_call_ended() -> bytes:
    """call_ended derived from the call_analyzed sample: no call_analysis, other event name."""
    payload = json.loads(sample("retell-call-analyzed.json"))
    del payload["call"]["call_analysis"]
    payload["event"] = "call_ended"
    return json.dumps(payload).encode()


async def post(
    client: TestClient, path: str, body: bytes, headers: dict[str, str], expected_status: int
) -> dict[str, Any]:
    """POST raw bytes, assert the status, return the JSON reply."""
    reply = await client.post(
        path, data=io.BytesIO(body), headers={"Content-Type": "application/json", **headers}
    )
    payload: dict[str, Any] = await reply.json()
    assert reply.status == expected_status, payload
    return payload


async def queued_events(redis: aioredis.Redis, settings: Settings) -> dict[str, QueuedEvent]:
    """Every job on the arq queue, decoded as the worker will decode it."""
    events = {}
    for raw_id in await redis.zrange(settings.queue_name, 0, -1):
        job_id = raw_id.decode()
        job = job_deserializer(await redis.get(f"arq:job:{job_id}"))
        assert job["f"] == "store_conversation"
        events[job_id] = queued_event_decoder.decode(job["a"][0])
    return events


async def assert_nothing_queued(redis: aioredis.Redis, settings: Settings) -> None:
    """Neither the queue nor any job key holds anything."""
    assert await redis.zcard(settings.queue_name) == 0
    assert await redis.keys("arq:job:*") == []
