"""Calls the API and checks every response body against the OpenAPI document's schema for it."""

from __future__ import annotations

from typing import Any

import jsonschema
from aiohttp.test_utils import TestClient

from services.api.openapi import build_openapi

OPENAPI = build_openapi()


def schema_for(template: str, method: str, status: int) -> dict[str, Any]:
    """The documented response schema, resolvable on its own (components attached)."""
    operation = OPENAPI["paths"][template].get(method.lower())
    if operation is None:  # a method the path doesn't have: the generic error body
        assert status == 405
        return {"$ref": "#/components/schemas/ErrorBody", "components": OPENAPI["components"]}
    response = operation["responses"].get(str(status))
    assert response is not None, f"{method} {template} does not document status {status}"
    schema = response["content"]["application/json"]["schema"]
    return {**schema, "components": OPENAPI["components"]}


def check_body(template: str, method: str, status: int, body: Any) -> None:
    """Raise if the body doesn't match what the document promises for this status."""
    schema = schema_for(template, method, status)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(body)


class Api:
    """A TestClient that authenticates with a key and validates every reply."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    async def call(
        self,
        method: str,
        template: str,
        *,
        key: str | None,
        status: int,
        path_id: int | str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One request; asserts the status and the documented body shape, returns the body."""
        path = template.replace("{id}", str(path_id)) if path_id is not None else template
        all_headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        all_headers.update(headers or {})
        reply = await self.client.request(method, path, headers=all_headers, **kwargs)
        body = await reply.json()
        assert reply.status == status, (reply.status, body)
        assert reply.content_type == "application/json"
        check_body(template, method, status, body)
        if status == 401:
            assert reply.headers["WWW-Authenticate"] == "Bearer"
        return body
