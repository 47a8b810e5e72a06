"""ElevenLabs post_call_transcription (verbatim docs sample) through the real app."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from shared.config import Settings
from tests.ingest.webhooks import assert_nothing_queued, elevenlabs_headers, post, queued_events, sample

TRANSCRIPTION = sample("elevenlabs-post-call-transcription.docs.json")


async def test_post_call_transcription_is_queued(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    reply = await post(
        client, "/webhooks/v1/elevenlabs", TRANSCRIPTION, elevenlabs_headers(TRANSCRIPTION), 202
    )
    conv = (await queued_events(redis_client, settings))[reply["job_id"]].conversation
    assert (conv.source, conv.channel, conv.provider_call_id) == ("elevenlabs", "phone", "abc")
    assert (conv.event_type, conv.event_rank) == ("post_call_transcription", 2)
    assert conv.started_at == conv.event_at == datetime(2025, 2, 14, 12, 48, 17, tzinfo=UTC)
    assert conv.ended_at == datetime(2025, 2, 14, 12, 48, 39, tzinfo=UTC)  # start + call_duration_secs
    assert conv.provider_assistant_id == "xyz"
    assert conv.end_reason_raw is None  # the sample's termination_reason is ""
    assert (conv.from_number, conv.to_number) == (None, None)
    assert [(t.role, t.elapsed_s) for t in conv.transcript] == [("agent", 0), ("caller", 2), ("agent", 9)]
    assert conv.summary is not None and conv.summary.startswith("The conversation begins")
    assert conv.provider_metadata["call_successful"] == "success"


async def test_phone_call_numbers_follow_direction(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    payload = json.loads(TRANSCRIPTION)
    payload["data"]["metadata"]["phone_call"] = {
        "type": "twilio",
        "direction": "inbound",
        "agent_number": "+1 555 010 0002",
        "external_number": "+15550100001",
    }
    body = json.dumps(payload).encode()
    reply = await post(client, "/webhooks/v1/elevenlabs", body, elevenlabs_headers(body), 202)
    conv = (await queued_events(redis_client, settings))[reply["job_id"]].conversation
    assert (conv.from_number, conv.to_number) == ("+15550100001", "+15550100002")


async def test_audio_webhook_is_ignored(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    body = b'{"type": "post_call_audio", "data": {"conversation_id": "abc", "full_audio": "AAAA"}}'
    reply = await post(client, "/webhooks/v1/elevenlabs", body, elevenlabs_headers(body), 200)
    assert reply["status"] == "ignored"
    await assert_nothing_queued(redis_client, settings)
