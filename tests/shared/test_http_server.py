from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import structlog
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, BadStatusLine, LineTooLong

from shared.config import Settings
from shared.http_server import MAX_HEADER_BYTES, MAX_REQUEST_LINE_BYTES, EdgeAppRunner, classify
from shared.middleware import request_middleware
from shared.web import add_health_routes

SECRET = "rr_live_0123456789abcdefghijABCDEFGHIJ0123456789"


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (LineTooLong(b"/x", MAX_REQUEST_LINE_BYTES), 414),
        (LineTooLong(b"Authorization", MAX_HEADER_BYTES), 431),
        (BadHttpMessage("Too many headers received"), 431),
        (BadStatusLine("GET / HTTP/7"), 400),
        (None, 400),
    ],
)
def test_what_was_too_long_decides_the_status(exc: BaseException | None, status: int) -> None:
    assert classify(400, exc) == status


async def serve(settings: Settings) -> AsyncIterator[int]:
    """A small app behind EdgeAppRunner on a free port, as shared/serve.py runs the services."""
    app = web.Application(middlewares=[request_middleware])
    add_health_routes(app, required=())
    runner = EdgeAppRunner(app, settings)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


@pytest.fixture
async def port() -> AsyncIterator[int]:
    async for bound in serve(Settings(header_timeout_s=0.3, keepalive_timeout_s=0.6)):
        yield bound


async def talk(port: int, raw: bytes) -> tuple[bytes, float]:
    """Send raw bytes; what the server answers until it closes, and after how long."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    try:
        writer.write(raw)
        async with asyncio.timeout(5):
            return await reader.read(), time.monotonic() - started
    finally:
        writer.close()


async def test_an_oversized_header_is_431_json_that_quotes_nothing(port: int) -> None:
    with structlog.testing.capture_logs() as logs:
        reply, _ = await talk(
            port, f"GET /healthz HTTP/1.1\r\nAuthorization: Bearer {SECRET}{'A' * 9000}\r\n\r\n".encode()
        )
    assert reply.startswith(b"HTTP/1.0 431 ")
    assert reply.endswith(b'{"detail":"Request header fields too large"}')
    assert b"Server: ringready\r\n" in reply and b"X-Content-Type-Options: nosniff\r\n" in reply
    assert SECRET.encode() not in reply
    assert logs == [
        {
            "event": "bad_http_request",
            "status": 431,
            "error": "LineTooLong",
            "remote": "127.0.0.1",
            "log_level": "info",
        }
    ]


async def test_headers_late_past_header_timeout_get_408(port: int) -> None:
    reply, elapsed = await talk(port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: a")
    assert reply.startswith(b"HTTP/1.0 408 ")
    assert reply.endswith(b'{"detail":"Request headers not received in time"}')
    assert 0.3 <= elapsed < 0.6  # the header deadline, not the keep-alive one


async def test_an_idle_connection_is_closed_silently_at_the_keepalive_timeout(port: int) -> None:
    reply, elapsed = await talk(port, b"")
    assert reply == b""
    assert 0.6 <= elapsed < 1.5
    answered, elapsed = await talk(port, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")  # then idle
    assert answered.startswith(b"HTTP/1.1 200 ") and answered.endswith(b'{"status":"ok"}')
    assert 0.6 <= elapsed < 1.5
