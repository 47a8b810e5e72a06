"""Native phone and web-chat events through the real app, checked on the queued job."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from shared.config import Settings
from tests.ingest.webhooks import post, queued_events, standard_headers

PHONE_CALL = {
    "call_id": "CA-native-1",
    "from": "+1 (555) 010-0001",
    "to": "+15550100002",
    "started_at": "2025-02-12T12:06:31+01:00",
    "ended_at": "2025-02-12T11:07:05.480Z",
    "end_reason": "caller_hangup",
    "recording_url": "https://recordings.example/CA-native-1.wav",
    "caller_name": "Dana",
    "summary": "Asked about Saturday hours.",
    "label": "hours",
    "metadata": {"trunk": "twilio", "call_sid": "CA123"},
    "transcript": [
        {"role": "system", "content": "prompt", "elapsed_s": 0},
        {"role": "agent", "content": "Example Clinic, how can I help?", "elapsed_s": 1.2},
        {"role": "caller", "content": "Are you open Saturday?", "elapsed_s": 4.5},
    ],
}

WEB_CHAT = {
    "agent_id": 42,
    "session_id": "chat_7f3a",
    "started_at": "2025-02-12T11:00:00Z",
    "ended_at": "2025-02-12T11:04:00Z",
    "updated_at": "2025-02-12T11:05:00Z",
    "end_reason": "visitor_ended",
    "visitor_ip": "203.0.113.7",
    "device_type": "mobile",
    "origin_url": "https://clinic.example/contact",
    "transcript": [
        {"role": "agent", "content": "Hi! How can I help?", "elapsed_s": 0},
        {"role": "visitor", "content": "Do you take walk-ins?", "elapsed_s": 12.5},
    ],
}


async def test_native_phone_call_is_queued_canonically(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    body = msgspec.json.encode(PHONE_CALL)
    reply = await post(client, "/webhooks/v1/phone", body, standard_headers(body, "msg_phone_1"), 202)
    events = await queued_events(redis_client, settings)
    assert list(events) == [reply["job_id"]] and reply["status"] == "queued"
    event = events[reply["job_id"]]
    conv = event.conversation
    assert (conv.source, conv.channel, conv.provider_call_id) == ("phone", "phone", "CA-native-1")
    assert (conv.event_type, conv.event_rank) == ("call_ended", 1)
    assert conv.started_at == datetime(2025, 2, 12, 11, 6, 31, tzinfo=UTC)
    assert conv.ended_at == conv.event_at == datetime(2025, 2, 12, 11, 7, 5, 480000, tzinfo=UTC)
    assert (conv.from_number, conv.to_number, conv.agent_id) == ("+15550100001", "+15550100002", None)
    assert [(t.role, t.raw_role, t.elapsed_s) for t in conv.transcript] == [
        ("agent", "agent", 1.2),
        ("caller", "caller", 4.5),
    ]
    assert (conv.caller_name, conv.summary, conv.label, conv.end_reason_raw) == (
        "Dana",
        PHONE_CALL["summary"],
        "hours",
        "caller_hangup",
    )
    assert conv.recording_url == PHONE_CALL["recording_url"]
    assert conv.provider_metadata == {"trunk": "twilio", "call_sid": "CA123"}
    assert event.raw_body == body and event.delivery_id == "msg_phone_1"


async def test_native_web_chat_is_queued_canonically(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    body = msgspec.json.encode(WEB_CHAT)
    reply = await post(client, "/webhooks/v1/web-chat", body, standard_headers(body, "msg_chat_1"), 202)
    conv = (await queued_events(redis_client, settings))[reply["job_id"]].conversation
    assert (conv.source, conv.channel, conv.provider_call_id, conv.agent_id) == (
        "web_chat",
        "web_chat",
        "chat_7f3a",
        42,
    )
    assert conv.event_at == datetime(2025, 2, 12, 11, 5, tzinfo=UTC)  # updated_at versions the record
    assert (conv.visitor_ip, conv.device_type, conv.origin_url) == (
        "203.0.113.7",
        "mobile",
        WEB_CHAT["origin_url"],
    )
    assert conv.end_reason_raw == "visitor_ended"
    assert [(t.role, t.raw_role) for t in conv.transcript] == [("agent", "agent"), ("visitor", "visitor")]
    assert conv.from_number is None and conv.to_number is None


async def test_phone_call_may_name_the_agent_instead_of_the_number(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    payload = {key: value for key, value in PHONE_CALL.items() if key not in ("to", "from", "transcript")}
    body = msgspec.json.encode({**payload, "agent_id": 7})
    reply = await post(client, "/webhooks/v1/phone", body, standard_headers(body), 202)
    conv = (await queued_events(redis_client, settings))[reply["job_id"]].conversation
    assert (conv.agent_id, conv.to_number, conv.transcript) == (7, None, [])
