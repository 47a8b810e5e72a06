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

ANALYZED = sample("retell-call-analyzed.json")


async def test_call_analyzed_is_queued_with_rank_two(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    reply = await post(client, "/webhooks/v1/retell", ANALYZED, retell_headers(ANALYZED), 202)
    conv = (await queued_events(redis_client, settings))[reply["job_id"]].conversation
    assert (conv.source, conv.channel, conv.provider_call_id) == (
        "retell",
        "phone",
        "Rk7QpX2vNw9LmT4sHc8YdB3fJz6GaE1u",
    )
    assert (conv.event_type, conv.event_rank) == ("call_analyzed", 2)
    assert conv.started_at == datetime(2026, 1, 18, 7, 12, 40, 518000, tzinfo=UTC)
    assert conv.ended_at == conv.event_at == datetime(2026, 1, 18, 7, 14, 21, 94000, tzinfo=UTC)
    assert (conv.from_number, conv.to_number) == ("+12065550163", "+12065550107")
    assert conv.provider_assistant_id == "Hm3TzW8cKq5VbN1xRf7LpD4sYg9JeA2o"
    assert conv.end_reason_raw == "user_hangup"
    assert conv.summary is not None and conv.summary.startswith("Dana Whitfield reported a water heater")
    assert conv.provider_metadata["user_sentiment"] == "Neutral"
    assert conv.provider_metadata["custom_analysis_data"] == {"urgency": "high"}
    assert conv.caller_name == "Dana Whitfield"
    assert [t.role for t in conv.transcript] == ["agent", "caller"] * 3 + ["agent"]
    assert conv.transcript[1].raw_role == "user"
    # An utterance's time is its first word's start; utterances without words keep the previous one's.
    assert [t.elapsed_s for t in conv.transcript] == [0.64, 4.9, 4.9, 4.9, 41.26, 41.26, 41.26]


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
