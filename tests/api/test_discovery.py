"""The OpenAPI document validates and covers the contract; /llms.txt describes the API."""

from __future__ import annotations

import msgspec
from openapi_spec_validator import validate

from tests.api.contract import Api

EXPECTED_OPERATIONS = {
    ("/api/v1/whoami", "get"),
    ("/api/v1/conversations", "get"),
    ("/api/v1/conversations/{id}", "get"),
    ("/api/v1/agents", "get"),
    ("/api/v1/agents/{id}", "get"),
    ("/api/v1/agents/{id}", "patch"),
    ("/api/v1/openapi.json", "get"),
}

LLMS_MUST_MENTION = (
    "/api/v1/openapi.json",
    "Authorization: Bearer",
    "before_id",
    "next_before_id",
    "PATCH /api/v1/agents/{id}",
    "10,000",
    "30,000",
    "50 {question: answer}",
    "422",
    "403",
)


async def test_openapi_document_is_valid_3_1(api: Api) -> None:
    reply = await api.client.get("/api/v1/openapi.json")
    assert reply.status == 200 and reply.content_type == "application/json"
    doc = msgspec.json.decode(await reply.read())
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    operations = {
        (path, method) for path, item in doc["paths"].items() for method in item if method != "parameters"
    }
    assert operations == EXPECTED_OPERATIONS


async def test_openapi_documents_auth_errors_and_parameters(api: Api) -> None:
    doc = msgspec.json.decode(await (await api.client.get("/api/v1/openapi.json")).read())
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["apiKeyHeader"]["name"] == "X-API-KEY"
    listing = doc["paths"]["/api/v1/conversations"]["get"]
    params = {p["name"]: p["schema"] for p in listing["parameters"]}
    assert params["limit"] == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
    assert params["channel"]["enum"] == ["phone", "web_chat"]
    assert set(params) == {"channel", "agent_id", "since", "before_id", "limit"}
    assert {"401", "403", "422", "500", "503"} <= set(listing["responses"])
    patch = doc["paths"]["/api/v1/agents/{id}"]["patch"]
    assert {"401", "403", "404", "413", "422"} <= set(patch["responses"])
    body = doc["components"]["schemas"]["AgentPatch"]
    assert body["additionalProperties"] is False
    assert body["properties"]["business_services"]["maxLength"] == 30_000
    assert body["properties"]["faq"]["maxProperties"] == 50
    item = doc["components"]["schemas"]["ConversationItem"]["properties"]
    assert "from" in item and "to" in item and "visitor_ip" not in str(item)


async def test_llms_txt_describes_the_api(api: Api) -> None:
    reply = await api.client.get("/llms.txt")
    assert reply.status == 200 and reply.content_type == "text/plain" and reply.charset == "utf-8"
    text = await reply.text()
    assert text.startswith("# RingReady Developer API v1\n\n> ")
    for must in LLMS_MUST_MENTION:
        assert must in text, must
