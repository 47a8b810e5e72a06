"""ElevenLabs post_call_audio (megabytes of base64 MP3) gets its 200 without being held in memory;
every other oversized body is still 413."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import msgspec
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from services.ingest import bodies
from shared.config import Settings
from tests.helpers import TEST_ELEVENLABS_SECRET
from tests.ingest.adapters.test_native import PHONE_CALL, WEB_CHAT
from tests.ingest.signing import signed
from tests.ingest.stored import provider_sample
from tests.ingest.webhooks import assert_nothing_queued, elevenlabs_headers, post

THREE_MINUTES_MP3 = 2_850_000  # bytes of MP3 at ~128 kbit/s; ~3.8 MB once base64-encoded
PIECE = 48 * 1024  # a multiple of 3, so pieces base64-encode independently


def _audio_pieces(mp3_bytes: int) -> Iterator[bytes]:
    """A post_call_audio body in pieces: deterministic, never all in memory at once."""
    yield b'{"type": "post_call_audio", "event_timestamp": 1739537297, "data": {"agent_id": "xyz", '
    yield b'"conversation_id": "conv_audio_1", "full_audio": "'
    sent = 0
    while sent < mp3_bytes:
        size = min(PIECE, mp3_bytes - sent)
        yield base64.b64encode(hashlib.sha256(str(sent).encode()).digest() * (size // 32 + 1))[
            : size * 4 // 3
        ]
        sent += size
    yield b'"}}'


def _signature(pieces: Iterator[bytes], secret: str = TEST_ELEVENLABS_SECRET) -> dict[str, str]:
    ts = str(int(time.time()))
    mac = hmac.new(secret.encode(), ts.encode() + b".", hashlib.sha256)
    for piece in pieces:
        mac.update(piece)
    return {"ElevenLabs-Signature": f"t={ts},v0={mac.hexdigest()}", "Content-Type": "application/json"}


async def _stream(pieces: Iterator[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def test_three_minute_audio_webhook_is_200_ignored(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    body = b"".join(_audio_pieces(THREE_MINUTES_MP3))
    assert len(body) > 3_800_000 > settings.max_body_bytes
    reply = await post(client, "/webhooks/v1/elevenlabs", body, elevenlabs_headers(body), 200)
    assert reply == {"status": "ignored", "reason": "elevenlabs webhook type 'post_call_audio' is not stored"}
    await assert_nothing_queued(redis_client, settings)


async def test_chunked_audio_is_hashed_as_it_streams_with_bounded_memory(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    mp3_bytes = 24 * 1024 * 1024  # 32 MiB of base64, sent chunked (no Content-Length)
    headers = _signature(_audio_pieces(mp3_bytes))
    tracemalloc.start()
    try:
        reply = await client.post(
            "/webhooks/v1/elevenlabs", data=_stream(_audio_pieces(mp3_bytes)), headers=headers
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reply.status == 200, await reply.text()
    # One body limit kept to read the type, plus buffers; nowhere near the 32 MiB sent.
    assert peak < settings.max_body_bytes + 4 * 1024 * 1024, peak
    await assert_nothing_queued(redis_client, settings)


async def test_large_audio_with_a_bad_signature_is_401(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    headers = _signature(_audio_pieces(THREE_MINUTES_MP3), secret="not-the-secret")
    reply = await client.post(
        "/webhooks/v1/elevenlabs", data=_stream(_audio_pieces(THREE_MINUTES_MP3)), headers=headers
    )
    assert reply.status == 401
    assert await reply.json() == {"detail": "elevenlabs-signature does not match"}
    await assert_nothing_queued(redis_client, settings)


async def test_audio_past_its_own_cap_is_413(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bodies, "AUDIO_MAX_BYTES", 2 * 1024 * 1024)
    body = b"".join(_audio_pieces(THREE_MINUTES_MP3))
    reply = await post(client, "/webhooks/v1/elevenlabs", body, elevenlabs_headers(body), 413)
    assert reply == {"detail": "Request body too large"}
    chunked = await client.post(
        "/webhooks/v1/elevenlabs",
        data=_stream(_audio_pieces(THREE_MINUTES_MP3)),
        headers=_signature(_audio_pieces(THREE_MINUTES_MP3)),
    )
    assert chunked.status == 413
    await assert_nothing_queued(redis_client, settings)


def _oversized(path: str) -> bytes:
    blob = "x" * 1_100_000
    if path.endswith("phone"):
        return msgspec.json.encode({**PHONE_CALL, "summary": blob})
    if path.endswith("web-chat"):
        return msgspec.json.encode({**WEB_CHAT, "metadata": {"blob": blob}})
    if path.endswith("elevenlabs"):  # a transcription this large is not audio: still refused
        payload = provider_sample("elevenlabs")
        payload["data"]["analysis"]["transcript_summary"] = blob
        return msgspec.json.encode(payload)
    return b'{"blob": "' + blob.encode() + b'", "type": "post_call_audio"}'  # type after 1 MiB


@pytest.mark.parametrize(
    "path",
    [
        "/webhooks/v1/phone",
        "/webhooks/v1/web-chat",
        "/webhooks/v1/vapi",
        "/webhooks/v1/retell",
        "/webhooks/v1/elevenlabs",
    ],
)
@pytest.mark.parametrize("chunked", [False, True])
async def test_every_other_oversized_body_is_still_413(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings, path: str, chunked: bool
) -> None:
    body = _oversized(path)
    data = (
        _stream(iter([body[i : i + PIECE] for i in range(0, len(body), PIECE)]))
        if chunked
        else io.BytesIO(body)
    )
    reply = await client.post(
        path, data=data, headers={"Content-Type": "application/json", **signed(path, body)}
    )
    assert reply.status == 413
    assert await reply.json() == {"detail": "Request body too large"}
    await assert_nothing_queued(redis_client, settings)
