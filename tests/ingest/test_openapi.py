"""GET /webhooks/v1/openapi.json: a valid OpenAPI 3.1 document describing the native formats."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from services.ingest.sources import SOURCES


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
