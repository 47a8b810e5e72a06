"""Vapi end-of-call-report (verbatim sample) through the real app; other message types are ignored."""

from __future__ import annotations

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

REPORT = sample("vapi-end-of-call-report.reconstructed.json")


async def test_end_of_call_report_is_queued(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    reply = await post(client, "/webhooks/v1/vapi", REPORT, vapi_secret_headers(), 202)
    event = (await queued_events(redis_client, settings))[reply["job_id"]]
    conv = event.conversation
    assert (conv.source, conv.channel, conv.provider_call_id) == (
        "vapi",
        "phone",
        "00000000-0000-4000-8000-000000000001",
    )
    assert (conv.event_type, conv.event_rank) == ("end-of-call-report", 2)
    assert conv.event_at == datetime(2025, 2, 12, 11, 7, 41, 480000, tzinfo=UTC)
    assert conv.started_at == datetime(2025, 2, 12, 11, 6, 31, 120000, tzinfo=UTC)
    assert conv.ended_at == datetime(2025, 2, 12, 11, 7, 5, 480000, tzinfo=UTC)
    assert (conv.from_number, conv.to_number) == ("+15550100001", "+15550100002")
    assert conv.provider_assistant_id == "00000000-0000-4000-8000-0000000000bb"
    assert conv.end_reason_raw == "customer-ended-call"
    assert (
        conv.recording_url
        == "https://storage.vapi.ai/00000000-0000-4000-8000-000000000001-1739358461000-mono.wav"
    )
    assert conv.summary is not None and conv.summary.startswith("The caller asked whether the clinic is open")
    assert [(t.role, t.raw_role, t.elapsed_s) for t in conv.transcript] == [
        ("agent", "bot", 1.28),
        ("caller", "user", 5.93),
        ("agent", "bot", 8.89),
        ("caller", "user", 13.08),
    ]
    assert conv.transcript[1].content == "Hi, are you open on Saturday?"
    assert conv.provider_metadata["phone_call_provider_id"] == "CA00000000000000000000000000000001"
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
    body = REPORT.replace(b'"inboundPhoneCall"', b'"webCall"').replace(b'"+15550100001"', b'"anonymous"')
    body = body.replace(b'"phoneNumber": { "provider": "twilio", "number": "+15550100002" },', b"")
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
