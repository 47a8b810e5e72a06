"""The OpenAPI document validates and covers the contract; /llms.txt describes the API."""

from __future__ import annotations

from typing import Any

import asyncpg
import jsonschema
import msgspec
from multidict import CIMultiDictProxy
from openapi_spec_validator import validate

from services.api.openapi import build_openapi
from tests.api.conftest import World
from tests.api.contract import Api
from tests.api.factories import make_key

EXPECTED_OPERATIONS = {
    ("/api/v1/whoami", "get"),
    ("/api/v1/conversations", "get"),
    ("/api/v1/conversations/sync", "get"),  # issue #15, tests/api/test_sync.py
    ("/api/v1/conversations/{id}", "get"),
    ("/api/v1/conversations/export", "get"),  # issue #15, tests/api/test_export.py
    ("/api/v1/agents", "get"),
    ("/api/v1/agents/{id}", "get"),
    ("/api/v1/agents/{id}", "patch"),
    ("/api/v1/openapi.json", "get"),
    # Webhooks out (issue #14, docs/webhooks.md); tests/webhooks/test_api.py checks their statuses.
    ("/api/v1/webhooks/endpoints", "post"),
    ("/api/v1/webhooks/endpoints", "get"),
    ("/api/v1/webhooks/endpoints/{id}", "get"),
    ("/api/v1/webhooks/endpoints/{id}", "patch"),
    ("/api/v1/webhooks/endpoints/{id}", "delete"),
    ("/api/v1/webhooks/endpoints/{id}/rotate-secret", "post"),
    ("/api/v1/webhooks/endpoints/{id}/test", "post"),
    ("/api/v1/webhooks/endpoints/{id}/recover", "post"),
    ("/api/v1/webhooks/endpoints/{id}/deliveries", "get"),
    ("/api/v1/webhooks/deliveries/{id}", "get"),
    ("/api/v1/webhooks/deliveries/{id}/retry", "post"),
}

# Every status an operation can answer (the error middleware's, auth's, the limiter's, its own).
EXPECTED_STATUSES = {
    ("/api/v1/whoami", "get"): set(),
    ("/api/v1/conversations", "get"): {"422"},
    ("/api/v1/conversations/sync", "get"): {"422"},
    ("/api/v1/conversations/{id}", "get"): {"404"},
    ("/api/v1/agents", "get"): set(),
    ("/api/v1/agents/{id}", "get"): {"404"},
    ("/api/v1/agents/{id}", "patch"): {"404", "412", "413", "422"},  # 412: a stale If-Match (issue #15)
}
COMMON_STATUSES = {"200", "401", "403", "405", "429", "500", "503"}
RATE_LIMIT_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Policy",
    "RateLimit",
)
# Headers our code sets; each one a response carries must be declared on that response.
OUR_HEADERS = {
    name.lower() for name in (*RATE_LIMIT_HEADERS, "Retry-After", "X-Request-ID", "Allow", "WWW-Authenticate")
}
DOC = build_openapi()

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
    assert set(params) == {"channel", "agent_id", "since", "before_id", "limit", "q"}
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


def test_every_operation_declares_every_status_it_can_answer() -> None:
    for (path, method), own in EXPECTED_STATUSES.items():
        responses = DOC["paths"][path][method]["responses"]
        assert set(responses) == COMMON_STATUSES | own, (path, method)
        for status, response in responses.items():
            schema = response["content"]["application/json"]["schema"]
            if status != "200":
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, method, status)
            assert response["headers"]["X-Request-ID"]["required"] is True
        limited = responses["429"]["headers"]
        assert all(limited[name]["required"] for name in (*RATE_LIMIT_HEADERS, "Retry-After"))
        assert all(responses["200"]["headers"][name]["required"] for name in RATE_LIMIT_HEADERS)
        assert responses["405"]["headers"]["Allow"]["required"] is True
        assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True


def _header_value(raw: str, schema: dict[str, Any]) -> Any:
    return int(raw) if schema.get("type") == "integer" and raw.isdigit() else raw


def check_headers(path: str, method: str, status: int, headers: CIMultiDictProxy[str]) -> None:
    """The reply's headers are the ones its response object declares, and match their schemas."""
    declared = DOC["paths"][path][method]["responses"][str(status)]["headers"]
    for name, header in declared.items():
        if header["required"]:
            assert name in headers, (path, method, status, name)
        if name in headers:
            jsonschema.validate(_header_value(headers[name], header["schema"]), header["schema"])
    undeclared = {name for name in headers if name.lower() in OUR_HEADERS} - set(declared)
    assert not undeclared, (path, method, status, undeclared)


async def test_replies_carry_exactly_the_declared_headers(api: Api, pg: asyncpg.Pool, world: World) -> None:
    one_a_minute, _ = await make_key(pg, world.a.account_id, ["read", "write"], rate_limit_per_min=1)
    own = {"Authorization": f"Bearer {world.a.key}"}
    cases: list[tuple[str, str, str, dict[str, Any], int]] = [
        ("GET", "/api/v1/whoami", "/api/v1/whoami", {"headers": own}, 200),
        ("GET", "/api/v1/whoami", "/api/v1/whoami", {}, 401),
        ("GET", "/api/v1/conversations", "/api/v1/conversations?limit=0", {"headers": own}, 422),
        ("GET", "/api/v1/conversations", "/api/v1/conversations?before_id=424242", {"headers": own}, 422),
        ("GET", "/api/v1/agents/{id}", "/api/v1/agents/424242", {"headers": own}, 404),
        ("GET", "/api/v1/agents/{id}", f"/api/v1/agents/{world.a_agent}", {"headers": own}, 200),
        ("DELETE", "/api/v1/agents/{id}", f"/api/v1/agents/{world.a_agent}", {"headers": own}, 405),
        (
            "PATCH", "/api/v1/agents/{id}", f"/api/v1/agents/{world.a_agent}",
            {"headers": {"Authorization": f"Bearer {world.a.read_key}"}, "json": {}}, 403,
        ),
        ("GET", "/api/v1/agents", "/api/v1/agents", {"headers": {"X-API-KEY": one_a_minute}}, 200),
        ("GET", "/api/v1/agents", "/api/v1/agents", {"headers": {"X-API-KEY": one_a_minute}}, 429),
    ]  # fmt: skip
    for method, template, url, kwargs, status in cases:
        reply = await api.client.request(method, url, **kwargs)
        assert reply.status == status, (method, url, reply.status, await reply.text())
        documented = method.lower() if method.lower() in DOC["paths"][template] else "get"
        check_headers(template, documented, status, reply.headers)
