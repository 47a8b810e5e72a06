"""Bodies msgspec cannot decode at all (invalid UTF-8 in a string, absurd nesting) are the
sender's fault: 422 on every source, nothing queued, never a 500."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from shared.config import Settings
from tests.ingest.signing import PATHS, signed
from tests.ingest.webhooks import assert_nothing_queued, post

# The first string every adapter decodes: the discriminator or the id.
INVALID_UTF8 = {
    "/webhooks/v1/phone": b'{"call_id": "CA-\xff\xfe", "to": "+15550100002"}',
    "/webhooks/v1/web-chat": b'{"session_id": "chat-\xc3\x28", "agent_id": 1}',
    "/webhooks/v1/vapi": b'{"message": {"type": "end-of-call-report\xed\xa0\x80", "call": {"id": "c"}}}',
    "/webhooks/v1/retell": b'{"event": "call_ended\x80", "call": {"call_id": "c"}}',
    "/webhooks/v1/elevenlabs": b'{"type": "post_call_transcription\xf8", "data": {}}',
}


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("path", PATHS)
async def test_invalid_utf8_in_a_string_is_422(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings, path: str
) -> None:
    body = INVALID_UTF8[path]
    reply = await post(client, path, body, signed(path, body), 422)
    assert reply["detail"].startswith("Invalid request body: not valid UTF-8"), reply
    await assert_nothing_queued(redis_client, settings)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("where", ["top", "field"])
async def test_json_nested_thousands_deep_is_422(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings, path: str, where: str
) -> None:
    # Both the whole body and one (unknown, so skipped) field nested 5,000 deep.
    body = _deep(5000) if where == "top" else b'{"type": "x", "event": "x", "extra": ' + _deep(5000) + b"}"
    reply = await post(client, path, body, signed(path, body), 422)
    assert reply["detail"].startswith("Invalid request body"), reply
    await assert_nothing_queued(redis_client, settings)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("escape", [b"\\ud800", b"\\udfff", b"\\ud800\\u0041", b"\\udc00\\ud800"])
async def test_lone_surrogate_escapes_are_422(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings, path: str, escape: bytes
) -> None:
    # No text column can hold half a UTF-16 pair; msgspec refuses it while decoding.
    body = INVALID_UTF8[path]
    for bad in (b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b"\xf8"):
        body = body.replace(bad, escape)
    reply = await post(client, path, body, signed(path, body), 422)
    assert reply["detail"].startswith("Invalid request body"), reply
    await assert_nothing_queued(redis_client, settings)
