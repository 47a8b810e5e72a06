"""What ingest accepts the worker can store: NUL (which Postgres text and jsonb cannot hold)
becomes U+FFFD, and integers the queue cannot carry are refused naming the field."""

from __future__ import annotations

import asyncpg
import msgspec
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

NUL, FFFD = "\x00", "\ufffd"


async def test_nul_becomes_replacement_character_everywhere_and_is_stored(
    client: TestClient, pg: asyncpg.Pool, settings: Settings
) -> None:
    agent_id = await agent_for_every_sample(pg)
    phone = {
        **PHONE_CALL,
        "call_id": f"CA{NUL}1",
        "summary": f"sum{NUL}mary",
        "caller_name": f"Da{NUL}na",
        "label": f"{NUL}",
        "end_reason": f"hang{NUL}up",
        "recording_url": f"https://r.example/{NUL}",
        "transcript": [{"role": "caller", "content": f"hi{NUL}there", "elapsed_s": 1}],
        "metadata": {f"k{NUL}": {"nested": [f"v{NUL}", 1, None, {f"{NUL}": f"{NUL}{NUL}"}]}},
    }
    chat = {**WEB_CHAT, "agent_id": agent_id, "device_type": f"mob{NUL}", "origin_url": f"{NUL}"}
    vapi = provider_sample("vapi")
    vapi["message"]["analysis"]["summary"] = f"vapi{NUL}summary"
    vapi["message"]["analysis"]["structuredData"] = {f"a{NUL}": f"b{NUL}"}
    for path, payload in [
        ("/webhooks/v1/phone", phone),
        ("/webhooks/v1/web-chat", chat),
        ("/webhooks/v1/vapi", vapi),
    ]:
        body = msgspec.json.encode(payload)
        assert b"\\u0000" in body
        await post(client, path, body, signed(path, body), 202)
    await store_queued(settings)
    assert await dead_letters(pg) == []
    rows = {row["source"]: row for row in await stored_rows(pg)}
    assert set(rows) == {"phone", "web_chat", "vapi"}
    call = rows["phone"]
    assert call["provider_call_id"] == f"CA{FFFD}1"
    assert (call["summary"], call["caller_name"], call["label"]) == (f"sum{FFFD}mary", f"Da{FFFD}na", FFFD)
    assert call["end_reason_raw"] == f"hang{FFFD}up"
    assert call["recording_url"] == f"https://r.example/{FFFD}"
    assert call["transcript"][0]["content"] == f"hi{FFFD}there"
    assert call["provider_metadata"] == {f"k{FFFD}": {"nested": [f"v{FFFD}", 1, None, {FFFD: FFFD * 2}]}}
    assert call["raw_body"].count(b"\\u0000") == 12  # the body as received is kept verbatim
    assert (rows["web_chat"]["device_type"], rows["web_chat"]["origin_url"]) == (f"mob{FFFD}", FFFD)
    assert rows["vapi"]["summary"] == f"vapi{FFFD}summary"
    assert rows["vapi"]["provider_metadata"]["structured_data"] == {f"a{FFFD}": f"b{FFFD}"}


async def test_integer_beyond_64_bits_in_metadata_is_422_naming_it(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    cases = [
        ("/webhooks/v1/phone", {**PHONE_CALL, "metadata": {"a": [1, 2**64]}}, "`$.metadata.a[1]`"),
        ("/webhooks/v1/web-chat", {**WEB_CHAT, "metadata": {"b": {"c": -(2**63) - 1}}}, "`$.metadata.b.c`"),
    ]
    retell = provider_sample("retell")
    retell["call"]["metadata"] = {"big": 10**30}
    cases.append(("/webhooks/v1/retell", retell, "`$.call.metadata.big`"))
    for path, payload, where in cases:
        body = msgspec.json.encode(payload)
        reply = await post(client, path, body, signed(path, body), 422)
        detail = f"Invalid request body: Integer value out of range (more than 64 bits) - at {where}"
        assert reply["detail"] == detail
    await assert_nothing_queued(redis_client, settings)


async def test_metadata_as_deep_as_the_decoder_accepts_is_stored_with_or_without_nul(
    client: TestClient, pg: asyncpg.Pool, settings: Settings
) -> None:
    # The NUL replacement works on the encoded JSON, not by recursion in Python, so it does not
    # lower the depth the decoder allows.
    await agent_for_every_sample(pg)
    depth = 800
    for call_id, leaf in (("deep", "x"), ("deep-nul", NUL)):
        body = msgspec.json.encode({**PHONE_CALL, "call_id": call_id, "metadata": {"d": "@@"}})
        body = body.replace(b'"@@"', b"[" * depth + msgspec.json.encode(leaf) + b"]" * depth)
        await post(client, "/webhooks/v1/phone", body, signed("/webhooks/v1/phone", body), 202)
    await store_queued(settings)
    assert await dead_letters(pg) == []
    stored = {row["provider_call_id"]: row["provider_metadata"]["d"] for row in await stored_rows(pg)}
    for call_id, leaf in (("deep", "x"), ("deep-nul", FFFD)):
        value = stored[call_id]
        for _ in range(depth - 1):
            value = value[0]
        assert value == [leaf]


async def test_provider_call_id_past_255_characters_is_422_naming_it(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    # Found by the property tests: a 10,000-character Retell call_id got 202, then the unique
    # index on (source, provider_call_id) refused the row ("index row requires 10336 bytes").
    vapi, retell, eleven = provider_sample("vapi"), provider_sample("retell"), provider_sample("elevenlabs")
    vapi["message"]["call"]["id"] = "v" * 256
    retell["call"]["call_id"] = "r" * 10_000
    eleven["data"]["conversation_id"] = ""
    for path, payload, where in [
        ("/webhooks/v1/vapi", vapi, "$.message.call.id"),
        ("/webhooks/v1/retell", retell, "$.call.call_id"),
        ("/webhooks/v1/elevenlabs", eleven, "$.data.conversation_id"),
    ]:
        body = msgspec.json.encode(payload)
        reply = await post(client, path, body, signed(path, body), 422)
        assert reply["detail"].endswith(f" - at `{where}`"), reply
        assert "length" in reply["detail"]
    await assert_nothing_queued(redis_client, settings)
