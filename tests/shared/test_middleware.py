from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import msgspec
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient

from shared import errors
from shared.config import Settings
from shared.http_server import handler_kwargs
from shared.middleware import request_middleware
from shared.web import response_headers_key, settings_key

log = structlog.get_logger("test")


class Body(msgspec.Struct, forbid_unknown_fields=True):
    name: str


async def boom(request: web.Request) -> web.Response:
    log.info("inside_handler")
    raise RuntimeError("secret database password in the message")


async def not_found(request: web.Request) -> web.Response:
    raise errors.NotFound("Conversation not found.")


async def unauthenticated(request: web.Request) -> web.Response:
    raise errors.Unauthenticated("Invalid API key.", headers={"WWW-Authenticate": "Bearer"})


async def limited(request: web.Request) -> web.Response:
    raise errors.RateLimited("Slow down; retry after 7 s.", retry_after_s=7)


async def decode(request: web.Request) -> web.Response:
    msgspec.json.decode(await request.read(), type=Body)
    return web.Response(text="ok")


NOTED = {"X-Quota-Left": "4", "X-Quota-Reset": "1790000000"}


async def noted_then(request: web.Request) -> web.Response:
    request[response_headers_key] = NOTED
    if request.query.get("then") == "fail":
        raise errors.NotFound("Conversation not found.")
    if request.query.get("then") == "crash":
        raise RuntimeError("a bug")
    return web.Response(text="ok", headers={"X-Quota-Left": "stale"})


def make_app(**handler_args: Any) -> web.Application:
    app = web.Application(middlewares=[request_middleware], client_max_size=64, handler_args=handler_args)
    app.router.add_get("/boom", boom)
    app.router.add_get("/missing", not_found)
    app.router.add_get("/auth", unauthenticated)
    app.router.add_get("/limited", limited)
    app.router.add_post("/decode", decode)
    app.router.add_get("/noted", noted_then)
    return app


async def test_unexpected_error_is_500_that_leaks_only_the_request_id(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client: TestClient = await aiohttp_client(make_app())
    with structlog.testing.capture_logs() as logs:
        reply = await client.get("/boom", headers={"X-Request-ID": "req-42"})
    assert reply.status == 500
    body = await reply.json()
    assert body == {"detail": "Internal server error; quote request id req-42 when reporting it."}
    assert "secret" not in await reply.text()
    failed = [e for e in logs if e["event"] == "request_failed"]
    assert len(failed) == 1 and failed[0]["exc_info"] is True


async def test_one_log_line_per_request_with_request_id_bound(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client: TestClient = await aiohttp_client(make_app())
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, structlog.testing.LogCapture()])
    capture = structlog.get_config()["processors"][-1]
    try:
        reply = await client.get("/boom", headers={"X-Request-ID": "req-7"})
    finally:
        structlog.reset_defaults()
    assert reply.status == 500
    events = capture.entries
    finished = [e for e in events if e["event"] == "request_finished"]
    assert len(finished) == 1
    assert finished[0]["status"] == 500 and finished[0]["route"] == "/boom"
    assert finished[0]["duration_ms"] >= 0
    inside = [e for e in events if e["event"] == "inside_handler"]
    assert inside[0]["request_id"] == "req-7"
    assert all(e.get("request_id") == "req-7" for e in events)


async def test_app_errors_map_to_status_detail_and_headers(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client: TestClient = await aiohttp_client(make_app())
    missing = await client.get("/missing")
    assert (missing.status, await missing.json()) == (404, {"detail": "Conversation not found."})
    auth = await client.get("/auth")
    assert auth.status == 401 and auth.headers["WWW-Authenticate"] == "Bearer"
    limited_reply = await client.get("/limited")
    assert limited_reply.status == 429 and limited_reply.headers["Retry-After"] == "7"


async def test_validation_error_is_422_naming_the_field(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client: TestClient = await aiohttp_client(make_app())
    wrong_type = await client.post("/decode", data=b'{"name": 5}')
    assert wrong_type.status == 422
    assert "$.name" in (await wrong_type.json())["detail"]
    malformed = await client.post("/decode", data=b"{not json")
    assert malformed.status == 422


async def test_oversized_body_is_413_json(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client: TestClient = await aiohttp_client(make_app())
    reply = await client.post("/decode", data=b'{"name": "' + b"x" * 200 + b'"}')
    assert reply.status == 413
    assert await reply.json() == {"detail": "Request body too large"}


async def ok(request: web.Request) -> web.Response:
    structlog.contextvars.bind_contextvars(handler_value=request.query.get("v", "none"))
    return web.Response(text="ok")


async def test_fresh_request_ids_are_unique_128_bit_tokens(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    app.router.add_get("/ok", ok)
    client: TestClient = await aiohttp_client(app)
    ids = [(await client.get("/ok")).headers["X-Request-ID"] for _ in range(20)]
    assert len(set(ids)) == 20
    assert all(re.fullmatch(r"req_[0-9a-f]{32}", request_id) for request_id in ids)
    assert (await client.get("/ok", headers={"X-Request-ID": "bad id!"})).headers["X-Request-ID"] != "bad id!"
    for pasted in (
        "rr_live_0123456789abcdefghijABCDEFGHIJ0123456789",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ):
        assert (await client.get("/ok", headers={"X-Request-ID": pasted})).headers["X-Request-ID"] != pasted


async def test_bindings_stay_within_their_request_and_startup_ones_remain(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    structlog.contextvars.bind_contextvars(service="api")  # as configure_logging does at start-up
    app = make_app()
    app.router.add_get("/ok", ok)
    client: TestClient = await aiohttp_client(app)
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, structlog.testing.LogCapture()])
    capture = structlog.get_config()["processors"][-1]
    try:
        await client.get("/ok?v=first", headers={"X-Request-ID": "req-1"})  # one keep-alive connection
        await client.get("/ok", headers={"X-Request-ID": "req-2"})
    finally:
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()
    finished = [e for e in capture.entries if e["event"] == "request_finished"]
    assert [(e["request_id"], e["handler_value"], e["service"]) for e in finished] == [
        ("req-1", "first", "api"),
        ("req-2", "none", "api"),
    ]


async def test_noted_headers_ride_on_every_response_of_the_request(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client: TestClient = await aiohttp_client(make_app())
    for then, status in (("ok", 200), ("fail", 404), ("crash", 500)):
        reply = await client.get("/noted", params={"then": then})
        assert reply.status == status
        assert {name: reply.headers.getall(name) for name in NOTED} == {k: [v] for k, v in NOTED.items()}
    plain = await client.get("/missing")  # nothing noted: nothing added
    assert "X-Quota-Left" not in plain.headers


async def test_every_response_carries_the_edge_headers(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    app.router.add_get("/ok", ok)
    app.router.add_get("/api/v1/openapi.json", ok)
    client: TestClient = await aiohttp_client(app)
    for path, status in (("/ok", 200), ("/missing", 404), ("/boom", 500), ("/nowhere", 404)):
        reply = await client.get(path)
        assert reply.status == status
        assert reply.headers.getall("Server") == ["ringready"]
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert reply.headers["Cache-Control"] == "no-store"
    wrong_method = await client.post("/ok")
    assert wrong_method.status == 405 and wrong_method.headers["Cache-Control"] == "no-store"
    public = await client.get("/api/v1/openapi.json")
    assert public.headers["X-Content-Type-Options"] == "nosniff" and "Cache-Control" not in public.headers


async def test_a_compressed_body_is_refused_with_415_and_the_connection_closed(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    # As served (shared/serve.py): aiohttp's auto_decompress off, or its parser inflates (or
    # chokes) before any middleware runs.
    client: TestClient = await aiohttp_client(make_app(**handler_kwargs(Settings())))
    for encoding in ("gzip", "deflate", "br", "identity, gzip"):
        reply = await client.post("/decode", data=b'{"name": "x"}', headers={"Content-Encoding": encoding})
        assert reply.status == 415
        assert "Content-Encoding" in (await reply.json())["detail"]
        assert reply.headers["Connection"] == "close"
    plain = await client.post("/decode", data=b'{"name": "x"}', headers={"Content-Encoding": "identity"})
    assert plain.status == 200


async def test_a_body_late_past_body_timeout_gets_408_and_the_connection_closed(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    app[settings_key] = Settings(body_timeout_s=0.3)
    client: TestClient = await aiohttp_client(app)
    assert client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        started = time.monotonic()
        writer.write(b"POST /decode HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\n{")
        async with asyncio.timeout(5):
            reply = await reader.read()  # until the server closes
        elapsed = time.monotonic() - started
    finally:
        writer.close()
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert reply.endswith(b'{"detail":"Request body not received in time"}')
    assert 0.3 <= elapsed < 2.0
    on_time = await client.post("/decode", data=b'{"name": "x"}')  # a whole body: no deadline left behind
    assert on_time.status == 200


async def test_the_log_line_names_the_route_never_the_path(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    app.router.add_get("/things/{id}", ok)
    client: TestClient = await aiohttp_client(app)
    secret = "rr_live_0123456789abcdefghijABCDEFGHIJ0123456789"
    with structlog.testing.capture_logs() as logs:
        assert (await client.get(f"/things/{secret}")).status == 200
        assert (await client.get(f"/{secret}")).status == 404
        assert (await client.post(f"/things/{secret}")).status == 405
    assert [(e["route"], e["status"]) for e in logs] == [
        ("/things/{id}", 200),
        ("(no route)", 404),
        ("(no route)", 405),
    ]
    assert secret not in repr(logs)
