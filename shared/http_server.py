"""aiohttp's server as the services run it: limits, deadlines, and bad requests answered without
echoing them (docs/operations.md, "The HTTP edge").

aiohttp (3.14) has no knob for the protocol class: its `Server` makes a `RequestHandler` per
connection. `EdgeAppRunner` swaps in `EdgeServer`, which makes an `EdgeRequestHandler`; the real
process tests in tests/faults/test_attacks.py fail if a new aiohttp stops honouring that.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.streams import EMPTY_PAYLOAD
from aiohttp.web_protocol import _ErrInfo

from shared.config import Settings
from shared.middleware import add_edge_headers
from shared.web import json_response

log = structlog.get_logger("http")

# The request line may be 8,190 bytes (aiohttp's default), a header line 8,192 (8 KiB): the two
# differ so that a refusal can say which was too long (414 or 431); neither is echoed.
MAX_REQUEST_LINE_BYTES = 8_190
MAX_HEADER_BYTES = 8_192
MAX_HEADERS = 128

DETAIL_BY_STATUS = {
    400: "Malformed HTTP request",
    408: "Request headers not received in time",
    414: "Request line too long",
    431: "Request header fields too large",
}


def handler_kwargs(settings: Settings) -> dict[str, Any]:
    """aiohttp's own knobs for every connection (RequestHandler keyword arguments)."""
    return {
        "access_log": None,  # the middleware logs one line per request
        "max_line_size": MAX_REQUEST_LINE_BYTES,
        "max_field_size": MAX_HEADER_BYTES,
        "max_headers": MAX_HEADERS,
        "keepalive_timeout": settings.keepalive_timeout_s,
        # A compressed body is refused (415) unread; inflating it in the parser, before any
        # handler can refuse it, is what let a 1 MB gzip body hold a process for seconds.
        "auto_decompress": False,
        # Once answered, the rest of an unread body is not read and discarded (aiohttp lingers
        # up to 10 s by default): the connection closes, so a refused or late body costs nothing.
        "lingering_time": 0,
    }


def classify(status: int, exc: BaseException | None) -> int:
    """The status for a request aiohttp could not parse: 414/431 for what was too long."""
    if isinstance(exc, LineTooLong):
        return 414 if exc.args[1] == MAX_REQUEST_LINE_BYTES else 431
    if isinstance(exc, BadHttpMessage) and exc.message == "Too many headers received":
        return 431
    return status


class HeadersTimeout(Exception):
    """The request's headers did not arrive within header_timeout_s of its first byte."""


class EdgeRequestHandler(web.RequestHandler):
    """aiohttp's protocol with a deadline on headers and an error answer that quotes nothing."""

    __slots__ = ("_header_deadline", "_header_timeout_s")

    def __init__(self, manager: web.Server, *, header_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout_s = header_timeout_s
        self._header_deadline: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        """Parse as aiohttp does; start the header clock on the first byte of a request."""
        if (self._close or self._force_close) and self._request_in_progress:
            self._read_body_while_stopping(data)
            return
        parsed = self._request_count
        super().data_received(data)
        if self._request_count != parsed:
            self._stop_header_clock()
        elif self._header_deadline is None and self._waiter is not None and not self._waiter.done():
            # Idle between requests (the keep-alive timeout's job) until bytes arrive; then the
            # headers have header_timeout_s. A waiting handler means these bytes are not a body.
            self._header_deadline = self._loop.call_later(self._header_timeout_s, self._headers_late)

    def _read_body_while_stopping(self, data: bytes) -> None:
        """Graceful shutdown: aiohttp drops every byte once a connection is closing, even the rest
        of the body its handler in flight is reading, which then never answers. Feed the parser;
        a request pipelined behind it is parsed but never run (the loop ends on close)."""
        closing = self._close, self._force_close
        self._close = self._force_close = False
        try:
            super().data_received(data)
        finally:
            self._close, self._force_close = closing

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop_header_clock()
        super().connection_lost(exc)

    def _stop_header_clock(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        """Answer 408 through the bad-request path and stop reading; the response closes."""
        self._header_deadline = None
        if self.transport is None or self._force_close:
            return
        self._messages.append((_ErrInfo(status=408, exc=HeadersTimeout(), message=""), EMPTY_PAYLOAD))
        self._close = True  # data_received ignores whatever else arrives
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """A JSON answer naming no byte of the request, and a log line naming only the error's
        class (aiohttp's answer and its log quote the first 100 bytes: an API key fits)."""
        status = classify(status, exc)
        if status >= 500:
            log.error("request_failed", status=status, exc_info=exc)
        else:
            error = type(exc).__name__ if exc is not None else None
            log.info("bad_http_request", status=status, error=error, remote=request.remote)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send an error response")
        detail = DETAIL_BY_STATUS.get(status, "Internal server error")
        response = json_response({"detail": detail}, status=status)
        add_edge_headers(response, cacheable=False)
        response.force_close()
        return response


class EdgeServer(web.Server):
    """aiohttp's Server, making EdgeRequestHandler protocols."""

    def __init__(self, *args: Any, header_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout_s = header_timeout_s

    def __call__(self) -> web.RequestHandler:
        return EdgeRequestHandler(
            self, loop=self._loop, header_timeout_s=self._header_timeout_s, **self._kwargs
        )


class EdgeAppRunner(web.AppRunner):
    """AppRunner whose server is an EdgeServer."""

    def __init__(self, app: web.Application, settings: Settings, **kwargs: Any) -> None:
        super().__init__(app, **handler_kwargs(settings), **kwargs)
        self._settings = settings

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()  # the app's start-up, and the handler kwargs
        return EdgeServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            header_timeout_s=self._settings.header_timeout_s,
            **server._kwargs,
        )
