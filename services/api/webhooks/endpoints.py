"""/api/v1/webhooks/endpoints: create (the secret shown once), list, get, update, delete, rotate the
secret, and send a test event."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
from aiohttp import web

from services.api.conversations import path_id
from services.api.typedefs import api_key_info
from services.api.webhooks.inputs import EndpointCreate, EndpointQuery, EndpointUpdate
from services.api.webhooks.parsing import parse_body, parse_query
from services.api.webhooks.schemas import (
    EndpointDeleted,
    SecretRotated,
    SentTestEvent,
    WebhookEndpoint,
    WebhookEndpointCreated,
    WebhookEndpointList,
)
from shared.db import webhook_endpoints as db
from shared.db.webhook_events import insert_test_event
from shared.errors import InvalidInput, NotFound
from shared.web import json_response, settings_key, statements_key
from shared.webhooks.addresses import BlockedAddress, check_resolved, check_url
from shared.webhooks.signing import generate_secret

ROTATION_OVERLAP_S = 24 * 3600.0  # the old secret keeps signing this long after a rotation
NOT_FOUND = "Webhook endpoint not found."


def endpoint_from(row: asyncpg.Record) -> WebhookEndpoint:
    """A row (ENDPOINT_COLUMNS, in order) as the public shape."""
    return WebhookEndpoint(*row)


async def _check_url(request: web.Request, url: str) -> None:
    """The SSRF rules at creation (docs/webhooks.md, "Safety"); a name that does not resolve yet is
    accepted, the check on every delivery still applies."""
    settings = request.app[settings_key]
    try:
        parsed = check_url(
            url, allow_http=settings.webhook_allow_http, allow_loopback=settings.webhook_allow_loopback
        )
        await check_resolved(parsed, allow_loopback=settings.webhook_allow_loopback)
    except BlockedAddress as err:
        raise InvalidInput(f"url: {err}") from None


def _owner(request: web.Request) -> tuple[Any, int]:
    return request.app[statements_key], request[api_key_info].account_id


async def create_handler(request: web.Request) -> web.Response:
    """A new endpoint, 201, with its secret (shown only here)."""
    new = parse_body(await request.read(), EndpointCreate)
    await _check_url(request, new.url)
    conn, account_id = _owner(request)
    secret = generate_secret()
    try:
        row = await db.insert_endpoint(
            conn, account_id, url=new.url, secret=secret, description=new.description,
            event_types=list(dict.fromkeys(new.event_types)), agent_id=new.agent_id,
        )  # fmt: skip
    except NotFound:
        raise InvalidInput("agent_id: no such agent in your account") from None
    return json_response(WebhookEndpointCreated(**dict(row), secret=secret), status=201)


async def list_handler(request: web.Request) -> web.Response:
    """A page of the account's endpoints, oldest first."""
    query = parse_query(request.query, EndpointQuery)
    conn, account_id = _owner(request)
    rows = await db.list_endpoints(conn, account_id, after_id=query.after_id or 0, limit=query.limit + 1)
    items = [endpoint_from(row) for row in rows[: query.limit]]
    next_after_id = items[-1].id if len(rows) > query.limit else None
    return json_response(WebhookEndpointList(items, next_after_id, query.limit))


async def detail_handler(request: web.Request) -> web.Response:
    """One endpoint; 404 if missing or another account's."""
    conn, account_id = _owner(request)
    row = await db.get_endpoint(conn, account_id, path_id(request, "Webhook endpoint"))
    if row is None:
        raise NotFound(NOT_FOUND)
    return json_response(endpoint_from(row))


async def update_handler(request: web.Request) -> web.Response:
    """Change the fields sent; replies with the whole endpoint."""
    endpoint_id = path_id(request, "Webhook endpoint")
    change = parse_body(await request.read(), EndpointUpdate)
    values = {f: v for f in db.UPDATABLE_FIELDS if (v := getattr(change, f)) is not msgspec.UNSET}
    if isinstance(values.get("url"), str):
        await _check_url(request, values["url"])
    if "event_types" in values:
        values["event_types"] = list(dict.fromkeys(values["event_types"]))
    conn, account_id = _owner(request)
    row = await db.update_endpoint(conn, account_id, endpoint_id, list(values), values)
    if row is None:
        if "agent_id" in values and await db.get_endpoint(conn, account_id, endpoint_id) is not None:
            raise InvalidInput("agent_id: no such agent in your account")
        raise NotFound(NOT_FOUND)
    return json_response(endpoint_from(row))


async def delete_handler(request: web.Request) -> web.Response:
    """Delete the endpoint and its delivery log."""
    conn, account_id = _owner(request)
    endpoint_id = path_id(request, "Webhook endpoint")
    if not await db.delete_endpoint(conn, account_id, endpoint_id):
        raise NotFound(NOT_FOUND)
    return json_response(EndpointDeleted(endpoint_id, True))


async def rotate_handler(request: web.Request) -> web.Response:
    """A new secret; both sign for ROTATION_OVERLAP_S."""
    conn, account_id = _owner(request)
    endpoint_id = path_id(request, "Webhook endpoint")
    secret = generate_secret()
    expires_at = await db.rotate_secret(conn, account_id, endpoint_id, secret, ROTATION_OVERLAP_S)
    if expires_at is None:
        raise NotFound(NOT_FOUND)
    return json_response(SecretRotated(endpoint_id, secret, expires_at))


async def test_event_handler(request: web.Request) -> web.Response:
    """Queue a `test` event for this endpoint only."""
    conn, account_id = _owner(request)
    endpoint_id = path_id(request, "Webhook endpoint")
    event_id = await insert_test_event(conn, account_id, endpoint_id)
    if event_id is None:
        raise NotFound(NOT_FOUND)
    return json_response(SentTestEvent(endpoint_id, event_id), status=202)
