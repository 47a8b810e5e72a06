"""The delivery log: an endpoint's deliveries (by status), one with every attempt, retry one,
recover every failed one since a time."""

from __future__ import annotations

import msgspec
from aiohttp import web

from services.api.conversations import StoredDataError, path_id
from services.api.typedefs import api_key_info
from services.api.webhooks.endpoints import NOT_FOUND
from services.api.webhooks.inputs import DeliveryQuery, Recover
from services.api.webhooks.parsing import parse_body, parse_query
from services.api.webhooks.schemas import Delivery, DeliveryDetail, DeliveryList, DeliveryRetried, Recovered
from shared.db import webhook_log as db
from shared.db.webhook_endpoints import get_endpoint
from shared.errors import Conflict, NotFound
from shared.web import json_response, statements_key

DELIVERY_NOT_FOUND = "Webhook delivery not found."


async def list_handler(request: web.Request) -> web.Response:
    """A page of an endpoint's deliveries, newest first, optionally of one status."""
    endpoint_id = path_id(request, "Webhook endpoint")
    query = parse_query(request.query, DeliveryQuery)
    conn, account_id = request.app[statements_key], request[api_key_info].account_id
    rows = await db.list_deliveries(
        conn, account_id, endpoint_id, status=query.status, before_id=query.before_id, limit=query.limit + 1
    )
    if not rows and await get_endpoint(conn, account_id, endpoint_id) is None:
        raise NotFound(NOT_FOUND)
    items = [Delivery(*row) for row in rows[: query.limit]]
    next_before_id = items[-1].id if len(rows) > query.limit else None
    return json_response(DeliveryList(items, next_before_id, query.limit))


async def detail_handler(request: web.Request) -> web.Response:
    """One delivery: the body sent and every attempt."""
    conn, account_id = request.app[statements_key], request[api_key_info].account_id
    row = await db.get_delivery(conn, account_id, path_id(request, "Webhook delivery"))
    if row is None:
        raise NotFound(DELIVERY_NOT_FOUND)
    try:
        return json_response(msgspec.convert(dict(row), DeliveryDetail))
    except msgspec.ValidationError as exc:
        raise StoredDataError(f"webhook delivery {row['id']}: {exc}") from exc


async def retry_handler(request: web.Request) -> web.Response:
    """Attempt it again now (once more, after a failure; again, after a success)."""
    delivery_id = path_id(request, "Webhook delivery")
    outcome = await db.retry_delivery(
        request.app[statements_key], request[api_key_info].account_id, delivery_id
    )
    if outcome is None:
        raise NotFound(DELIVERY_NOT_FOUND)
    if outcome == "busy":
        raise Conflict("This delivery is being attempted right now; retry it once that attempt is logged.")
    return json_response(DeliveryRetried(delivery_id, "pending"), status=202)


async def recover_handler(request: web.Request) -> web.Response:
    """Every failed delivery of the endpoint since a time is due again."""
    endpoint_id = path_id(request, "Webhook endpoint")
    since = parse_body(await request.read(), Recover).since
    conn, account_id = request.app[statements_key], request[api_key_info].account_id
    if await get_endpoint(conn, account_id, endpoint_id) is None:
        raise NotFound(NOT_FOUND)
    count = await db.recover_failed(conn, account_id, endpoint_id, since)
    return json_response(Recovered(endpoint_id, count), status=202)
