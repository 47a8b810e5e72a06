"""ElevenLabs post_call_transcription (the sample in tests/fixtures) through the real app."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from shared.config import Settings
from tests.ingest.webhooks import assert_nothing_queued, elevenlabs_headers, post, queued_events, sample

TRANSCRIPTION = sample("elevenlabs-post-call-transcription.json")


async def test_post_call_transcription_is_queued(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    reply = await post(
        client, "/webhooks/v1/elevenlabs", TRANSCRIPTION, elevenlabs_headers(TRANSCRIPTION), 202
    )
    conv = (await queued_events(redis_client, settings))[reply["job_id"]].conversation
    assert (conv.source, conv.channel, conv.provider_call_id) == (
        "elevenlabs",
        "phone",
        "conv_4801k3m9v2hpe6s7a9b3c1x0yq",
    )
    assert (conv.event_type, conv.event_rank) == ("post_call_transcription", 2)
    assert conv.started_at == datetime(2026, 2, 10, 15, 26, 3, tzinfo=UTC)
    assert conv.ended_at == datetime(2026, 2, 10, 15, 26, 27, tzinfo=UTC)  # start + call_duration_secs
    assert conv.event_at == datetime(2026, 2, 10, 15, 26, 34, tzinfo=UTC)  # event_timestamp
    assert conv.provider_assistant_id == "agent_7201k3m9q4xfe8t2b6c5n0d1wz"
    assert conv.end_reason_raw is None  # the sample's termination_reason is ""
    assert (conv.from_number, conv.to_number) == (None, None)  # a widget conversation: no phone_call
    assert [(t.role, t.elapsed_s) for t in conv.transcript] == [
        ("agent", 0),
        ("caller", 3),
        ("agent", 8),
        ("caller", 15),
        ("agent", 18),
    ]
    assert conv.transcript[3].content == "Tuesday at ten, please."
    assert conv.summary is not None and conv.summary.startswith("The caller wanted a checkup")
    assert conv.provider_metadata["call_successful"] == "success"
    assert conv.provider_metadata["call_summary_title"] == "Dog checkup booked"
    assert conv.provider_metadata["cost"] == 212


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
