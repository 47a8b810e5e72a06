"""POST /webhooks/v1/{source}: verify the raw bytes, decode, queue durably, then answer."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import msgspec
import structlog
from aiohttp import web

from services.ingest.adapters.common import Ignored
from services.ingest.bodies import read_body
from services.ingest.enqueue import enqueue
from services.ingest.openapi import OPENAPI_JSON
from services.ingest.replies import IgnoredReply, Queued
from services.ingest.sources import SOURCES, Source
from services.ingest.storable import storable
from shared.errors import AppError, NotFound, undecodable_as_invalid
from shared.metrics.series import WEBHOOKS
from shared.models import QueuedEvent
from shared.web import JSON, json_response, queue_key, settings_key


def _source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise NotFound(f"unknown webhook source {name!r}; expected one of {', '.join(SOURCES)}") from None


def refusal_outcome(exc: Exception) -> str:
    """The webhook counter's outcome for a refusal: the error's stable code, a bounded set."""
    if isinstance(exc, AppError):
        return exc.code
    if isinstance(exc, msgspec.ValidationError | msgspec.DecodeError):
        return "invalid_input"
    if isinstance(exc, web.HTTPException):
        return f"http_{exc.status}"
    return "error"


async def receive_webhook(request: web.Request) -> web.Response:
    """Count each delivery to a known source by outcome (an unknown one's name is the sender's
    choice, so it is only a 404 in the request counter)."""
    name = request.match_info["source"]
    source = _source(name)
    try:
        response = await _receive(request, name, source)
    except Exception as exc:
        WEBHOOKS.labels(name, refusal_outcome(exc)).inc()
        raise
    WEBHOOKS.labels(name, "queued" if response.status == 202 else "ignored").inc()
    return response


async def _receive(request: web.Request, name: str, source: Source) -> web.Response:
    """Answer 202 only once the event is on the queue; bad input is refused before it gets there."""
    structlog.contextvars.bind_contextvars(source=name)
    settings = request.app[settings_key]
    body = await read_body(request, name, settings)
    if isinstance(body, Ignored):  # large ElevenLabs audio, its signature checked while streaming
        return json_response(IgnoredReply(reason=body.reason))
    delivery_id = source.verify(settings, request.headers, body, time.time())
    # msgspec's UnicodeDecodeError/RecursionError (and storable's own walk of deep metadata) are 422.
    with undecodable_as_invalid():
        adapted = source.adapt(body)
        conversation = adapted if isinstance(adapted, Ignored) else storable(adapted, body)
    if isinstance(conversation, Ignored):
        return json_response(IgnoredReply(reason=conversation.reason))
    event = QueuedEvent(
        conversation=conversation, raw_body=body, received_at=datetime.now(UTC), delivery_id=delivery_id
    )
    job_id = await enqueue(request.app[queue_key], settings.queue_name, event)
    structlog.contextvars.bind_contextvars(job_id=job_id)
    return json_response(Queued(job_id=job_id), status=202)


async def openapi(request: web.Request) -> web.Response:
    """The ingest service's OpenAPI 3.1 document."""
    return web.Response(body=OPENAPI_JSON, content_type=JSON)


def add_routes(app: web.Application) -> None:
    """The webhook routes; the document is registered first so it is not taken for a source."""
    app.router.add_get("/webhooks/v1/openapi.json", openapi)
    app.router.add_post("/webhooks/v1/{source}", receive_webhook)
