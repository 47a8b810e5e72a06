"""Times and durations the store cannot hold are 422 naming the field; the edges of the window
are stored. 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z used to get 202 and then a dead
letter (asyncpg writes them as -infinity/infinity; a span from year 1 overflows duration_seconds);
epoch values far out, and offsets near year 1, were a 500."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from shared.config import Settings
from tests.ingest.adapters.test_native import PHONE_CALL, WEB_CHAT
from tests.ingest.signing import signed
from tests.ingest.stored import (
    agent_for_every_sample,
    dead_letters,
    provider_sample,
    store_queued,
    stored_rows,
)
from tests.ingest.webhooks import assert_nothing_queued, post

MIN, MAX = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"
WINDOW = "time must lie between 1970-01-01T00:00:00Z and 2100-01-01T00:00:00Z"
SPAN = "a conversation may last at most 2147483647 seconds"


def _vapi(**changes: Any) -> dict[str, Any]:
    body = provider_sample("vapi")
    body["message"].update(changes)
    return body


def _retell(**changes: Any) -> dict[str, Any]:
    body = provider_sample("retell")
    body["call"].update(changes)
    return body


def _eleven(event_timestamp: int | None = None, **changes: Any) -> dict[str, Any]:
    body = provider_sample("elevenlabs")
    body["data"]["metadata"].update(changes)
    if event_timestamp is not None:
        body["event_timestamp"] = event_timestamp
    return body


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("phone", {**PHONE_CALL, "started_at": MIN}, WINDOW, "started_at"),
    ("phone", {**PHONE_CALL, "started_at": MAX, "ended_at": MAX}, WINDOW, "started_at"),
    ("phone", {**PHONE_CALL, "started_at": "0001-01-01T00:00:00+01:00"}, WINDOW, "started_at"),
    ("phone", {**PHONE_CALL, "ended_at": "9999-12-31T23:59:59-01:00"}, WINDOW, "ended_at"),
    ("phone", {**PHONE_CALL, "updated_at": MAX}, WINDOW, "updated_at"),
    (
        "phone",
        {**PHONE_CALL, "started_at": "1970-01-01T00:00:00Z", "ended_at": "2099-12-31T00:00:00Z"},
        SPAN,
        "ended_at",
    ),
    ("phone", {**PHONE_CALL, "agent_id": 2**63}, "Expected `int` <= 9223372036854775807", "agent_id"),
    ("web-chat", {**WEB_CHAT, "ended_at": MAX}, WINDOW, "ended_at"),
    ("web-chat", {**WEB_CHAT, "started_at": "1969-12-31T23:59:59Z"}, WINDOW, "started_at"),
    ("vapi", _vapi(startedAt=MIN), WINDOW, "message.startedAt"),
    ("vapi", _vapi(endedAt=MAX), WINDOW, "message.endedAt"),
    ("vapi", _vapi(timestamp=1e300), WINDOW, "message.timestamp"),
    ("retell", _retell(start_timestamp=10**18), WINDOW, "call.start_timestamp"),
    ("retell", _retell(end_timestamp=-1), WINDOW, "call.end_timestamp"),
    ("retell", _retell(start_timestamp=-(2**63)), WINDOW, "call.start_timestamp"),
    ("elevenlabs", _eleven(start_time_unix_secs=10**15), WINDOW, "data.metadata.start_time_unix_secs"),
    ("elevenlabs", _eleven(call_duration_secs=2**62), "±2147483647", "data.metadata.call_duration_secs"),
    ("elevenlabs", _eleven(call_duration_secs=10**9 * 3), "±", "data.metadata.call_duration_secs"),
    ("elevenlabs", _eleven(event_timestamp=2**62), WINDOW, "event_timestamp"),
    (
        "elevenlabs",
        _eleven(start_time_unix_secs=0, call_duration_secs=-1),
        WINDOW,
        "data.metadata.call_duration_secs",
    ),
]


@pytest.mark.parametrize(("source", "payload", "message", "field"), CASES)
async def test_time_outside_what_the_store_holds_is_422_naming_the_field(
    client: TestClient,
    redis_client: aioredis.Redis,
    settings: Settings,
    source: str,
    payload: dict[str, Any],
    message: str,
    field: str,
) -> None:
    path = f"/webhooks/v1/{source}"
    body = msgspec.json.encode(payload)
    reply = await post(client, path, body, signed(path, body), 422)
    assert message in reply["detail"] and reply["detail"].endswith(f" - at `$.{field}`"), reply
    await assert_nothing_queued(redis_client, settings)


async def test_the_edges_of_the_window_are_stored(
    client: TestClient, pg: asyncpg.Pool, settings: Settings
) -> None:
    await agent_for_every_sample(pg)
    # A span of 68 years still fits duration_seconds.
    phone = {**PHONE_CALL, "started_at": "2031-12-31T23:59:59Z", "ended_at": "2099-12-31T23:59:59.999999Z"}
    retell = _retell(start_timestamp=0)
    eleven = _eleven(start_time_unix_secs=0, call_duration_secs=0, event_timestamp=4102444799)
    for source, payload in [("phone", phone), ("retell", retell), ("elevenlabs", eleven)]:
        body = msgspec.json.encode(payload)
        await post(client, f"/webhooks/v1/{source}", body, signed(f"/webhooks/v1/{source}", body), 202)
    await store_queued(settings)
    assert await dead_letters(pg) == []
    rows = {row["source"]: row for row in await stored_rows(pg)}
    assert (rows["phone"]["started_at_iso"], rows["phone"]["ended_at_iso"]) == (
        "2031-12-31T23:59:59Z",
        "2099-12-31T23:59:59.999999Z",
    )
    assert rows["phone"]["duration_seconds"] == 2145916801
    assert rows["retell"]["started_at_iso"] == "1970-01-01T00:00:00Z"
    assert rows["elevenlabs"]["event_at"].isoformat() == "2099-12-31T23:59:59+00:00"
