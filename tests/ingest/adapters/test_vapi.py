"""Vapi end-of-call-report (the sample in tests/fixtures) through the real app; other types are ignored."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from shared.config import Settings
from tests.ingest.webhooks import (
    assert_nothing_queued,
    post,
    queued_events,
    sample,
    vapi_hmac_headers,
    vapi_secret_headers,
)

REPORT = sample("vapi-end-of-call-report.json")
CALL_ID = "3f9c2e71-6b4d-4a8e-9d15-7c0a4b2e8f63"


async def test_end_of_call_report_is_queued(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    reply = await post(client, "/webhooks/v1/vapi", REPORT, vapi_secret_headers(), 202)
    event = (await queued_events(redis_client, settings))[reply["job_id"]]
    conv = event.conversation
    assert (conv.source, conv.channel, conv.provider_call_id) == ("vapi", "phone", CALL_ID)
    assert (conv.event_type, conv.event_rank) == ("end-of-call-report", 2)
    assert conv.event_at == datetime(2026, 3, 5, 17, 43, 34, 602000, tzinfo=UTC)
    assert conv.started_at == datetime(2026, 3, 5, 17, 42, 8, 215000, tzinfo=UTC)
    assert conv.ended_at == datetime(2026, 3, 5, 17, 43, 2, 940000, tzinfo=UTC)
    assert (conv.from_number, conv.to_number) == ("+15035550142", "+15035550118")
    assert conv.provider_assistant_id == "9a41c6e8-2f7b-4d03-b5e9-61c8d7a3f2e0"
    assert conv.end_reason_raw == "customer-ended-call"
    assert conv.recording_url == f"https://storage.vapi.ai/{CALL_ID}-1772732582940-mono.wav"
    assert conv.summary is not None and conv.summary.startswith(
        "The caller asked whether the practice has evening"
    )
    # The system prompt and the tool_calls entry are not speech: four turns remain.
    assert [(t.role, t.raw_role, t.elapsed_s) for t in conv.transcript] == [
        ("agent", "bot", 1.42),
        ("caller", "user", 6.37),
        ("agent", "bot", 11.06),
        ("caller", "user", 17.94),
    ]
    assert conv.transcript[1].content == "Hi, do you have evening hours on Thursdays? I work until five."
    assert conv.provider_metadata["phone_call_provider_id"] == "CA7e4b19d02c6a58f3e1b7d940a2c6e815"
    assert conv.provider_metadata["success_evaluation"] == "true"
    assert event.raw_body == REPORT and event.delivery_id is None


async def test_hmac_credential_is_accepted(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    await post(client, "/webhooks/v1/vapi", REPORT, vapi_hmac_headers(REPORT), 202)
    assert len(await queued_events(redis_client, settings)) == 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"message": {"type": "status-update", "status": "ended", "call": {"id": 5}}}',
        # Decodes as a report, but is only stored when its type says it is one.
        REPORT.replace(b'"end-of-call-report"', b'"status-update"'),
    ],
    ids=["other-shape", "report-shaped"],
)
async def test_other_message_types_are_ignored(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings, body: bytes
) -> None:
    reply = await post(client, "/webhooks/v1/vapi", body, vapi_secret_headers(), 200)
    assert reply == {"status": "ignored", "reason": "vapi message type 'status-update' is not stored"}
    await assert_nothing_queued(redis_client, settings)


async def test_web_call_has_no_numbers(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    payload = json.loads(REPORT)
    message = payload["message"]
    message["call"]["type"] = "webCall"
    del message["phoneNumber"]
    for customer in (message["customer"], message["call"]["customer"]):
        customer["number"] = "anonymous"
    body = json.dumps(payload).encode()
    reply = await post(client, "/webhooks/v1/vapi", body, vapi_secret_headers(), 202)
    conv = (await queued_events(redis_client, settings))[reply["job_id"]].conversation
    assert (conv.channel, conv.from_number, conv.to_number) == ("phone", None, None)


async def test_broken_report_is_422_naming_the_field(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    body = b'{"message": {"type": "end-of-call-report", "call": {"type": "webCall"}}}'
    reply = await post(client, "/webhooks/v1/vapi", body, vapi_secret_headers(), 422)
    missing_id = "Object missing required field `id` - at `$.message.call`"
    assert reply == {"detail": f"Invalid request body: {missing_id}"}
    await assert_nothing_queued(redis_client, settings)


async def test_message_without_type_is_422(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    body = b'{"message": {"call": {"id": "c1"}}}'
    reply = await post(client, "/webhooks/v1/vapi", body, vapi_secret_headers(), 422)
    assert reply == {"detail": "Invalid request body: Object missing required field `type` - at `$.message`"}
