"""GET /webhooks/v1/openapi.json: a valid OpenAPI 3.1 document describing the native formats."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from services.ingest.sources import SOURCES
from tests.ingest.adapters.test_native import PHONE_CALL, WEB_CHAT
from tests.ingest.signing import signed
from tests.ingest.stored import provider_sample


async def test_document_is_valid_openapi_31(client: TestClient) -> None:
    reply = await client.get("/webhooks/v1/openapi.json")
    assert reply.status == 200 and reply.content_type == "application/json"
    spec = await reply.json()
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    assert set(spec["paths"]) == {f"/webhooks/v1/{name}" for name in SOURCES}


async def test_native_formats_and_signature_headers_are_documented(client: TestClient) -> None:
    spec = await (await client.get("/webhooks/v1/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    phone = schemas["NativePhoneCall"]
    assert {"call_id", "started_at", "ended_at"} <= set(phone["required"])
    assert {"from", "to", "transcript", "updated_at", "agent_id", "metadata"} <= set(phone["properties"])
    assert {"agent_id", "session_id"} <= set(schemas["NativeWebChat"]["required"])
    phone_op = spec["paths"]["/webhooks/v1/phone"]["post"]
    assert {p["name"] for p in phone_op["parameters"]} == {"webhook-id", "webhook-timestamp"}
    assert phone_op["security"] == [{"standardWebhooks": []}]
    assert spec["components"]["securitySchemes"]["standardWebhooks"]["name"] == "webhook-signature"
    assert set(phone_op["responses"]) == {"202", "401", "413", "422", "503"}


def _body_validator(spec: dict[str, Any], path: str) -> Draft202012Validator:
    """A validator for path's request body, its $refs resolved inside the served document."""
    registry: Registry[Any] = Registry().with_resource(
        "urn:ingest", Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    pointer = "/paths/" + path.replace("/", "~1") + "/post/requestBody/content/application~1json/schema"
    return Draft202012Validator(
        {"$ref": "urn:ingest#" + pointer}, registry=registry, format_checker=FormatChecker()
    )


NO_ROUTE = {k: v for k, v in PHONE_CALL.items() if k != "to"}
# Bodies the document and the server used to disagree on, and their neighbours.
AGREEMENT: list[tuple[str, Any]] = [
    ("/webhooks/v1/phone", PHONE_CALL),
    ("/webhooks/v1/phone", NO_ROUTE),
    ("/webhooks/v1/phone", {**NO_ROUTE, "to": None, "agent_id": None}),
    ("/webhooks/v1/phone", {**NO_ROUTE, "agent_id": 7}),
    ("/webhooks/v1/phone", {**PHONE_CALL, "from": "555-0100-000-000-000-000"}),
    ("/webhooks/v1/phone", {**PHONE_CALL, "to": "+0 555 0100"}),
    ("/webhooks/v1/phone", {**PHONE_CALL, "to": "0044 20 7946 0000"}),
    ("/webhooks/v1/phone", {**PHONE_CALL, "to": "+15550100002\n"}),
    ("/webhooks/v1/web-chat", WEB_CHAT),
    ("/webhooks/v1/web-chat", {**WEB_CHAT, "visitor_ip": ""}),
    ("/webhooks/v1/web-chat", {**WEB_CHAT, "visitor_ip": "2001:db8::1"}),
    ("/webhooks/v1/web-chat", {**WEB_CHAT, "visitor_ip": "fe80::1%eth0"}),
    ("/webhooks/v1/web-chat", {**WEB_CHAT, "visitor_ip": "999.1.1.1"}),
    ("/webhooks/v1/vapi", provider_sample("vapi")),
    ("/webhooks/v1/vapi", {"message": {"type": "status-update", "status": "ended"}}),
    ("/webhooks/v1/vapi", {"message": {"type": "end-of-call-report"}}),
    ("/webhooks/v1/vapi", {"message": {"status": "ended"}}),
    ("/webhooks/v1/vapi", {"message": {"type": 7}}),
    ("/webhooks/v1/retell", provider_sample("retell")),
    ("/webhooks/v1/retell", {"event": "call_started"}),
    ("/webhooks/v1/retell", {"event": ""}),
    ("/webhooks/v1/retell", {"event_type": "transcript_updated", "call": 5}),
    ("/webhooks/v1/retell", {"event": None, "event_type": "call_ended"}),
    ("/webhooks/v1/retell", {"event": "call_ended"}),
    ("/webhooks/v1/retell", {"call": {"call_id": "x"}}),
    ("/webhooks/v1/retell", {"event": None}),
    ("/webhooks/v1/elevenlabs", provider_sample("elevenlabs")),
    ("/webhooks/v1/elevenlabs", {"type": "post_call_audio", "data": {"full_audio": "AAAA"}}),
    ("/webhooks/v1/elevenlabs", {"type": "post_call_transcription", "data": {"conversation_id": "c"}}),
    ("/webhooks/v1/elevenlabs", {"data": {}}),
    ("/webhooks/v1/elevenlabs", []),
]


@pytest.mark.parametrize(("path", "payload"), AGREEMENT)
async def test_server_accepts_exactly_what_the_document_allows(
    client: TestClient, path: str, payload: Any
) -> None:
    spec = await (await client.get("/webhooks/v1/openapi.json")).json()
    allowed = _body_validator(spec, path).is_valid(payload)
    body = json.dumps(payload).encode()
    reply = await client.post(
        path, data=body, headers={"Content-Type": "application/json", **signed(path, body)}
    )
    assert (reply.status < 300) == allowed, (reply.status, await reply.json())
    assert str(reply.status) in spec["paths"][path]["post"]["responses"]
