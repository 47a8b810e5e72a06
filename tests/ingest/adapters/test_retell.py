"""Retell call_analyzed (sample) and call_ended (derived from it) through the real app."""

from __future__ import annotations

from datetime import UTC, datetime

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from shared.config import Settings
from tests.ingest.webhooks import (
    assert_nothing_queued,
    post,
    queued_events,
    retell_call_ended,
    retell_headers,
    sample,
)

ANALYZED = sample("retell-call-analyzed.assembled-from-openapi.json")


async def test_call_analyzed_is_queued_with_rank_two(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    reply = await post(client, "/webhooks/v1/retell", ANALYZED, retell_headers(ANALYZED), 202)
    conv = (await queued_events(redis_client, settings))[reply["job_id"]].conversation
    assert (conv.source, conv.channel, conv.provider_call_id) == (
        "retell",
        "phone",
        "Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6",
    )
    assert (conv.event_type, conv.event_rank) == ("call_analyzed", 2)
    assert conv.started_at == datetime(2023, 12, 23, 3, 33, 27, 333000, tzinfo=UTC)
    assert conv.ended_at == conv.event_at == datetime(2023, 12, 23, 3, 33, 48, 855000, tzinfo=UTC)
    assert (conv.from_number, conv.to_number) == ("+12137771234", "+12137771235")
    assert conv.provider_assistant_id == "oBeDLoLOeuAbiuaMFXRtDOLriTJ5tSxD"
    assert conv.end_reason_raw == "agent_hangup"
    assert conv.summary is not None and conv.summary.startswith("The agent called the user")
    assert conv.provider_metadata["user_sentiment"] == "Positive"
    assert conv.caller_name == "John Doe"
    assert [t.role for t in conv.transcript] == ["agent", "caller"] * 3 + ["agent"]
    assert conv.transcript[0].elapsed_s == 0.7 and conv.transcript[1].raw_role == "user"


async def test_call_ended_is_rank_one_and_both_events_are_queued(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    ended = retell_call_ended()
    await post(client, "/webhooks/v1/retell", ANALYZED, retell_headers(ANALYZED), 202)
    # The late call_ended must not collapse into the analysed job: the worker ranks them.
    await post(client, "/webhooks/v1/retell", ended, retell_headers(ended), 202)
    by_type = {
        e.conversation.event_type: e.conversation
        for e in (await queued_events(redis_client, settings)).values()
    }
    assert set(by_type) == {"call_ended", "call_analyzed"}
    assert by_type["call_ended"].event_rank == 1 and by_type["call_ended"].summary is None
    assert by_type["call_analyzed"].event_rank == 2


async def test_other_events_are_ignored(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    body = b'{"event": "call_started", "call": {"call_id": "x"}}'
    reply = await post(client, "/webhooks/v1/retell", body, retell_headers(body), 200)
    assert reply["status"] == "ignored"
    await assert_nothing_queued(redis_client, settings)


async def test_body_without_event_is_422_naming_event(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    # The analysed call with its discriminator removed: not an event we may silently ignore.
    body = ANALYZED.replace(b'"event": "call_analyzed",', b"")
    assert b'"event"' not in body
    reply = await post(client, "/webhooks/v1/retell", body, retell_headers(body), 422)
    assert reply["detail"] == "Invalid request body: Object missing required field `event` - at `$`"
    for other in (b'{"call": {"call_id": "x"}}', b'{"event": null, "call": {"call_id": "x"}}', b"{}"):
        reply = await post(client, "/webhooks/v1/retell", other, retell_headers(other), 422)
        assert "`event`" in reply["detail"]
    await assert_nothing_queued(redis_client, settings)
