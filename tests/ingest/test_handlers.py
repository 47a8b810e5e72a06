"""Every bad-input class gets its status and a detail naming the problem, and queues nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import msgspec
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from services.ingest.app import create_app
from shared.config import Settings
from tests.ingest.adapters.test_native import PHONE_CALL, WEB_CHAT
from tests.ingest.webhooks import (
    assert_nothing_queued,
    elevenlabs_headers,
    post,
    queued_events,
    retell_headers,
    sample,
    standard_headers,
    vapi_secret_headers,
)

PHONE_BODY = msgspec.json.encode(PHONE_CALL)


def _with(**changes: object) -> bytes:
    return msgspec.json.encode({**PHONE_CALL, **changes})


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"call_id": x}', "Invalid request body: JSON is malformed"),
        (b"", "Invalid request body: Input data was truncated"),
        (b"[1, 2]", "Invalid request body: Expected `object`, got `array`"),
        (_with(agent_id="seven"), "Expected `int | null`, got `str` - at `$.agent_id`"),
        (_with(started_at="yesterday"), "at `$.started_at`"),
        (
            _with(started_at="2025-02-12T11:06:31"),
            "Expected `datetime` with a timezone component - at `$.started_at`",
        ),
        (
            _with(ended_at="2025-02-12T10:00:00Z"),
            "`ended_at` must not be before `started_at` - at `$.ended_at`",
        ),
        (_with(call_id=""), "at `$.call_id`"),
        (_with(to="+0 12"), "at `$.to`"),
        (_with(**{"from": "555-0100-000-000-000-000"}), "matching regex"),
        (_with(**{"from": "555-0100-000-000-000-000"}), "- at `$.from`"),
        (
            _with(transcript=[{"role": "wizard", "content": "hi", "elapsed_s": 1}]),
            "at `$.transcript[0].role`",
        ),
        (
            _with(transcript=[{"role": "agent", "content": "hi", "elapsed_s": -1}]),
            "at `$.transcript[0].elapsed_s`",
        ),
        (
            msgspec.json.encode({k: v for k, v in PHONE_CALL.items() if k != "call_id"}),
            "missing required field `call_id`",
        ),
    ],
)
async def test_bad_native_phone_body_is_422_naming_the_field(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings, body: bytes, detail: str
) -> None:
    reply = await post(client, "/webhooks/v1/phone", body, standard_headers(body), 422)
    assert detail in reply["detail"]
    await assert_nothing_queued(redis_client, settings)


async def test_bad_visitor_ip_is_422(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    body = msgspec.json.encode({**WEB_CHAT, "visitor_ip": "999.1.1.1"})
    reply = await post(client, "/webhooks/v1/web-chat", body, standard_headers(body), 422)
    assert reply["detail"] == "Invalid request body: not an IPv4 or IPv6 address - at `$.visitor_ip`"
    await assert_nothing_queued(redis_client, settings)


async def test_provider_wrong_type_is_422_naming_the_field(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    body = sample("retell-call-analyzed.json").replace(
        b'"start_timestamp": 1768720360518', b'"start_timestamp": "soon"'
    )
    reply = await post(client, "/webhooks/v1/retell", body, retell_headers(body), 422)
    assert (
        reply["detail"]
        == "Invalid request body: Expected `int | null`, got `str` - at `$.call.start_timestamp`"
    )
    eleven = b'{"type": "post_call_transcription", "data": {"conversation_id": "c"}}'
    reply = await post(client, "/webhooks/v1/elevenlabs", eleven, elevenlabs_headers(eleven), 422)
    assert reply["detail"] == "Invalid request body: Object missing required field `metadata` - at `$.data`"
    await assert_nothing_queued(redis_client, settings)


def _now() -> int:
    return int(time.time())


# Headers are built when the test runs (not at collection), so the timestamps are fresh.
BAD_AUTH: list[tuple[str, Callable[[], dict[str, str]], str]] = [
    ("/webhooks/v1/phone", dict, "missing webhook-id header"),
    ("/webhooks/v1/phone", lambda: standard_headers(b"other body"), "webhook-signature does not match"),
    ("/webhooks/v1/phone", lambda: standard_headers(PHONE_BODY, timestamp=_now() - 310), "outside"),
    ("/webhooks/v1/phone", lambda: standard_headers(PHONE_BODY, timestamp=_now() + 310), "outside"),
    (
        "/webhooks/v1/web-chat",
        lambda: standard_headers(PHONE_BODY, secret="whsec_" + "B" * 32),
        "does not match",
    ),
    ("/webhooks/v1/vapi", dict, "missing X-Vapi-Secret header"),
    ("/webhooks/v1/vapi", lambda: vapi_secret_headers("wrong"), "X-Vapi-Secret does not match"),
    ("/webhooks/v1/retell", dict, "missing x-retell-signature header"),
    ("/webhooks/v1/retell", lambda: retell_headers(PHONE_BODY, (_now() - 310) * 1000), "outside"),
    ("/webhooks/v1/elevenlabs", lambda: elevenlabs_headers(b"x"), "elevenlabs-signature does not match"),
    ("/webhooks/v1/elevenlabs", lambda: elevenlabs_headers(PHONE_BODY, _now() - 1810), "outside"),
]


@pytest.mark.parametrize(("path", "make_headers", "detail"), BAD_AUTH)
async def test_bad_signature_is_401(
    client: TestClient,
    redis_client: aioredis.Redis,
    settings: Settings,
    path: str,
    make_headers: Callable[[], dict[str, str]],
    detail: str,
) -> None:
    reply = await post(client, path, PHONE_BODY, make_headers(), 401)
    assert detail in reply["detail"]
    await assert_nothing_queued(redis_client, settings)


async def test_source_without_secret_fails_closed(
    aiohttp_client,
    redis_client: aioredis.Redis,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    client: TestClient = await aiohttp_client(
        create_app(msgspec.structs.replace(settings, retell_api_keys=()))
    )
    body = sample("retell-call-analyzed.json")
    reply = await post(client, "/webhooks/v1/retell", body, retell_headers(body), 401)
    assert reply["detail"] == "no secret is configured for this webhook source"
    await assert_nothing_queued(redis_client, settings)


async def test_body_over_the_limit_is_413(
    aiohttp_client,
    redis_client: aioredis.Redis,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    client: TestClient = await aiohttp_client(
        create_app(msgspec.structs.replace(settings, max_body_bytes=1024))
    )
    body = _with(summary="x" * 2000)
    reply = await post(client, "/webhooks/v1/phone", body, standard_headers(body), 413)
    assert reply["detail"] == "Request body too large"
    small = _with(summary="short")
    await post(client, "/webhooks/v1/phone", small, standard_headers(small), 202)
    assert [e.conversation.summary for e in (await queued_events(redis_client, settings)).values()] == [
        "short"
    ]


async def test_default_limit_is_one_mebibyte(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    body = _with(metadata={"blob": "x" * 1_048_576})
    reply = await post(client, "/webhooks/v1/phone", body, standard_headers(body), 413)
    assert reply["detail"] == "Request body too large"
    await assert_nothing_queued(redis_client, settings)


async def test_unknown_source_is_404_and_wrong_method_405(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    reply = await post(client, "/webhooks/v1/twilio", PHONE_BODY, standard_headers(PHONE_BODY), 404)
    assert (
        reply["detail"]
        == "unknown webhook source 'twilio'; expected one of phone, web-chat, vapi, retell, elevenlabs"
    )
    wrong = await client.get("/webhooks/v1/phone")
    assert wrong.status == 405 and wrong.headers["Allow"] == "POST"
    assert await wrong.json() == {"detail": "Method Not Allowed"}
    put = await client.put("/webhooks/v1/vapi", data=PHONE_BODY)
    assert put.status == 405
    await assert_nothing_queued(redis_client, settings)


async def test_same_delivery_twice_is_one_job(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    first = await post(client, "/webhooks/v1/phone", PHONE_BODY, standard_headers(PHONE_BODY, "msg_dup"), 202)
    # A retry carries a new timestamp and signature but the same body.
    second = await post(
        client, "/webhooks/v1/phone", PHONE_BODY, standard_headers(PHONE_BODY, "msg_dup"), 202
    )
    assert first == second
    assert list(await queued_events(redis_client, settings)) == [first["job_id"]]


async def test_twenty_concurrent_copies_are_one_job(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    body = sample("vapi-end-of-call-report.json")
    replies = await asyncio.gather(
        *(post(client, "/webhooks/v1/vapi", body, vapi_secret_headers(), 202) for _ in range(20))
    )
    assert {reply["job_id"] for reply in replies} == set(await queued_events(redis_client, settings))
    assert len({reply["job_id"] for reply in replies}) == 1


async def test_a_non_ascii_webhook_id_is_refused_as_a_bad_credential_not_a_500(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    # Raw bytes on the wire: aiohttp hands the header over surrogate-escaped, which a plain
    # str.encode() refused (UnicodeEncodeError, a 500 before the signature was even checked).
    body = PHONE_BODY
    head = (
        f"POST /webhooks/v1/phone HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"webhook-timestamp: {int(time.time())}\r\nwebhook-signature: v1,AAAA\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(head + b"webhook-id: \xe9t\xe9\r\n\r\n" + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 401 Unauthorized", answer
    assert b'{"detail":"webhook-id must be printable ASCII"}' in rest
    await assert_nothing_queued(redis_client, settings)
