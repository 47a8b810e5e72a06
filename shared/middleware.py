"""The one middleware: request id, error envelope {"detail": ...}, headers every response of the
request must carry (response_headers_key and the edge's own), refusals of compressed and slow
bodies, one log line and one metrics observation per request."""

from __future__ import annotations

import asyncio
import random
import re
import time

import msgspec
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from shared import errors
from shared.config import Settings
from shared.keys import KEY_PREFIX
from shared.metrics.series import in_flight, observe_request
from shared.web import json_response, request_id_key, response_headers_key, settings_key

log = structlog.get_logger("request")

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# A request id is logged and echoed: one that holds a secret's prefix (a pasting slip) is replaced.
_SECRET_MARKERS = (KEY_PREFIX, "whsec_")
_random_bits = random.getrandbits
HTTP_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"))

STATUS_BY_ERROR: dict[type[errors.AppError], int] = {
    errors.InvalidInput: 422,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.PayloadTooLarge: 413,
    errors.RateLimited: 429,
    errors.Unavailable: 503,
}


def request_id_for(request: web.Request) -> str:
    """The caller's X-Request-ID if it is a sane token, else a fresh one."""
    incoming = request.headers.get(REQUEST_ID_HEADER)
    if incoming and _VALID_REQUEST_ID.match(incoming) and not any(m in incoming for m in _SECRET_MARKERS):
        return incoming
    # 128 random bits as 32 hex digits, like a uuid4's hex. An id must be unique, not secret, so
    # the Mersenne Twister (reseeded in forked children) serves, without a getrandom() syscall.
    return f"req_{_random_bits(128):032x}"


# Generic words for the statuses whose aiohttp reason would be vague; no status quotes the request.
DETAIL_BY_STATUS = {
    408: "Request body not received in time",
    413: "Request body too large",
    415: "Compressed request bodies are not accepted (Content-Encoding must be identity)",
}
# Responses after which the connection is closed: the rest of the body is not read (or inflated).
CLOSE_AFTER = frozenset({408, 415})
# Public documents a cache may keep; every other response says Cache-Control: no-store.
CACHEABLE_PATHS = frozenset({"/api/v1/openapi.json", "/webhooks/v1/openapi.json", "/llms.txt"})
EDGE_HEADERS = {"Server": "ringready", "X-Content-Type-Options": "nosniff"}
_DEFAULT_SETTINGS = Settings()


def add_edge_headers(response: web.StreamResponse, cacheable: bool) -> None:
    """What every response carries, an error's or a bad request's too: no version banner, no
    content sniffing, and no caching unless the response is a public document or its handler said
    how (a tagged read: private, revalidated each time)."""
    response.headers.update(EDGE_HEADERS)
    if not cacheable:
        response.headers.setdefault("Cache-Control", "no-store")


class BodyTimeout(web.HTTPRequestTimeout):
    """The request body did not arrive within body_timeout_s (set on the body's stream)."""


def refused_encoding(request: web.Request) -> bool:
    """A Content-Encoding other than identity: none of our senders compresses, and inflating a
    small body into a huge one would hold the process (aiohttp's auto_decompress is off)."""
    encoding = request.headers.get("Content-Encoding")
    if encoding is None:
        return False
    return any(token.strip().lower() not in ("", "identity") for token in encoding.split(","))


def body_deadline(request: web.Request) -> asyncio.TimerHandle | None:
    """Fail the body's reads with BodyTimeout if it is not complete within body_timeout_s."""
    body = request.content
    if body.is_eof():
        return None
    settings = request.app.get(settings_key, _DEFAULT_SETTINGS)

    def expire() -> None:
        if not body.is_eof():
            body.set_exception(BodyTimeout())

    handle = asyncio.get_running_loop().call_later(settings.body_timeout_s, expire)
    body.on_eof(handle.cancel)
    return handle


def error_response(exc: BaseException, request_id: str) -> web.Response:
    """Map an exception to the {"detail": ...} envelope; unknown ones leak nothing."""
    if isinstance(exc, errors.AppError):
        status = STATUS_BY_ERROR.get(type(exc), 400)
        headers = dict(exc.headers)
        if isinstance(exc, errors.RateLimited):
            headers["Retry-After"] = str(exc.retry_after_s)
        return json_response({"detail": exc.detail}, status=status, headers=headers)
    if isinstance(exc, msgspec.ValidationError | msgspec.DecodeError):
        return json_response({"detail": f"Invalid request body: {exc}"}, status=422)
    if isinstance(exc, web.HTTPException):
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "www-authenticate")}
        detail = DETAIL_BY_STATUS.get(exc.status, exc.reason)
        return json_response({"detail": detail}, status=exc.status, headers=headers)
    if isinstance(exc, web.RequestPayloadError):
        # Its message may quote the offending bytes (a chunk-size line): say nothing of them.
        return json_response({"detail": "Malformed request body"}, status=400)
    return json_response(
        {"detail": f"Internal server error; quote request id {request_id} when reporting it."},
        status=500,
    )


# What is rendered without a traceback; anything else is a bug worth logging.
EXPECTED_ERRORS = (
    errors.AppError,
    web.HTTPException,
    web.RequestPayloadError,
    msgspec.ValidationError,
    msgspec.DecodeError,
)


def route_of(request: web.Request) -> str:
    """What a log line names: the route's template (/api/v1/agents/{id}), never the path itself,
    where a client may put anything, its API key or webhook secret included."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(no route)"


def method_of(request: web.Request) -> str:
    """The method as a metric label: HTTP's own methods, anything else (a client may send any
    token as a method) as "other", so no client can grow the series without bound."""
    return request.method if request.method in HTTP_METHODS else "other"


def render_failure(request: web.Request, exc: Exception) -> web.Response:
    """The envelope for what a handler raised (call it in the except block: unexpected exceptions
    are logged with their traceback)."""
    if not isinstance(exc, EXPECTED_ERRORS):
        log.exception("request_failed", method=request.method, route=route_of(request))
    return error_response(exc, request.get(request_id_key, ""))


def add_request_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The headers every response of the request carries: the edge's, the request id and what the
    request's handlers asked for (rate limits). A handler that streams calls this before prepare()."""
    add_edge_headers(response, cacheable=response.status < 400 and request.path in CACHEABLE_PATHS)
    response.headers[REQUEST_ID_HEADER] = request[request_id_key]
    extra_headers = request.get(response_headers_key)
    if extra_headers is not None:
        response.headers.update(extra_headers)


@web.middleware
async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind the request id, turn every exception into the JSON envelope, log one line."""
    started = time.perf_counter()
    request_id = request_id_for(request)
    # aiohttp runs every request in a task of its own, on a copy of the context: what a request
    # binds dies with it, so there is nothing to clear, and start-up bindings (service) remain.
    structlog.contextvars.bind_contextvars(request_id=request_id)
    request[request_id_key] = request_id
    deadline = body_deadline(request)
    route, method = route_of(request), method_of(request)
    running = in_flight(route, method)
    running.inc()
    try:
        if refused_encoding(request):
            raise web.HTTPUnsupportedMediaType()
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            add_edge_headers(exc, cacheable=False)
            raise
        response = error_response(exc, request_id)
    except Exception as exc:
        response = render_failure(request, exc)
    finally:
        running.dec()
        if deadline is not None:
            deadline.cancel()
    if response.status in CLOSE_AFTER:
        response.force_close()
    add_request_headers(request, response)
    duration_s = time.perf_counter() - started
    observe_request(route, method, response.status, duration_s)
    log.info(
        "request_finished",
        method=request.method,
        route=route,
        status=response.status,
        duration_ms=round(duration_s * 1000, 3),
    )
    return response
