"""Attacks on the HTTP edge (issue #11) against real service processes on 127.0.0.1.

Deadlines are set short through the environment; every wait and every loop is bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import struct
import subprocess
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from ops.embedded import free_port, port_open
from shared.config import Settings
from shared.db.accounts import insert_account
from tests.api.factories import make_key
from tests.faults.processes import service_env, start_service, stop
from tests.helpers import TEST_VAPI_SECRET, eventually

DEADLINE_S = 2.0  # every deadline under test; the defaults are 10, 30 and 75 s
LONG_S = "60"  # the deadlines a test is not about, so that they cannot be what closes
SLACK_S = 1.5  # scheduling on a busy 2-core box
QUICK_S = 1.0  # a normal request from another connection answers within this, whatever the attack
PADDING = "A" * 9_000  # past the 8 KiB line limits


@dataclass
class Service:
    """A running service process and its log file."""

    port: int
    log_path: Path
    process: subprocess.Popen[bytes]

    def stopped_log(self) -> str:
        """Stop the process (flushing its output) and return everything it logged."""
        stop(self.process)
        return self.log_path.read_text()


Launch = Callable[..., Awaitable[Service]]


@pytest.fixture
async def launch(settings: Settings, tmp_path: Path) -> AsyncIterator[Launch]:
    """Start `services.api` or `services.ingest` with extra RINGREADY_* variables; stopped after."""
    started: list[subprocess.Popen[bytes]] = []

    async def start(module: str, **extra: str) -> Service:
        port = free_port()
        port_var = "RINGREADY_API_PORT" if module == "services.api" else "RINGREADY_INGEST_PORT"
        env = service_env(
            settings,
            **{port_var: str(port), "RINGREADY_LOG_LEVEL": "info"},
            **{"RINGREADY_VAPI_SECRETS": TEST_VAPI_SECRET, **extra},
        )
        log_path = tmp_path / f"{module}-{port}.log"
        process = start_service(module, env, log_path)
        started.append(process)

        async def listening() -> bool:
            assert process.poll() is None, f"{module} exited: {log_path.read_text()[-2000:]}"
            return port_open("127.0.0.1", port)

        await eventually(listening, 30, f"{module} to listen")
        return Service(port, log_path, process)

    yield start
    for process in started:
        stop(process)


async def answer_time(port: int, path: str = "/healthz") -> float:
    """Seconds a normal request on a new connection takes to be answered."""
    started = time.monotonic()
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.get(f"http://127.0.0.1:{port}{path}") as reply,
    ):
        assert reply.status == 200
        await reply.read()
    return time.monotonic() - started


async def exchange(port: int, raw: bytes, within_s: float = 5.0) -> bytes:
    """Send raw bytes on a new connection; everything the server sends until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(within_s):
            writer.write(raw)
            await writer.drain()
            return await reader.read()
    finally:
        writer.close()


def status_of(reply: bytes) -> int:
    """The status code of a raw HTTP/1.x response (aiohttp answers what it cannot parse as 1.0)."""
    assert reply.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")), reply[:200]
    return int(reply.split(b" ", 2)[1])


def headers_of(reply: bytes) -> dict[str, str]:
    """A raw response's headers, names lower-cased."""
    head = reply.partition(b"\r\n\r\n")[0].decode("latin-1")
    pairs = (line.split(":", 1) for line in head.split("\r\n")[1:])
    return {name.strip().lower(): value.strip() for name, value in pairs}


# --- 1. Nothing of a bad request is echoed or logged ----------------------------------------------


def bad_requests(path: str, header: str, secret: str, shaped: bool) -> list[tuple[str, int | None]]:
    """Requests carrying a secret (after `header`, e.g. "Authorization: Bearer ", and elsewhere)
    that aiohttp cannot parse or we refuse; the status each gets (None: any 4xx). A `shaped`
    secret (rr_live_, whsec_) is recognisable, so it is refused as a request id too."""
    host, close = "Host: 127.0.0.1\r\n", "Connection: close\r\n"
    # Well-formed, the secret where the request id goes (which is logged and echoed).
    as_request_id = [(f"GET /healthz HTTP/1.1\r\n{host}X-Request-ID: {secret}\r\n{close}\r\n", 200)]
    return (as_request_id if shaped else []) + [
        # A header over the limit, the secret at its start (aiohttp echoed its first 100 bytes).
        (f"GET {path} HTTP/1.1\r\n{host}{header}{secret}{PADDING}\r\n\r\n", 431),
        # A request line over the limit, the secret in its query.
        (f"GET {path}?key={secret}&pad={PADDING} HTTP/1.1\r\n{host}\r\n", 414),
        # Malformed request lines and headers, each with the secret where the parser stops.
        (f"GET {path}?key={secret} HTTP/1.1 junk\r\n{host}\r\n", 400),
        (f"{secret} {path} HTTP/1.1\r\n{host}\r\n", 400),
        (f"GET {path}?key={secret} HTTP/7.3\r\n{host}\r\n", 400),
        (f"GET {path} HTTP/1.1\r\n{host}{header}{secret}\x01\r\n\r\n", 400),
        (f"GET {path} HTTP/1.1\r\n{host}{secret}\r\n\r\n", 400),
        (f"GET {path} HTTP/1.1\r\n{host}{header}{secret}\r\nContent-Length: {secret}\r\n\r\n", 400),
        # A body that is not valid chunked encoding: the secret where a chunk size should be.
        (f"POST {path} HTTP/1.1\r\n{host}Transfer-Encoding: chunked\r\n\r\n{secret}\r\n", None),
        # Well-formed, but a path that is the secret, or holds it.
        (f"GET /{secret} HTTP/1.1\r\n{host}{close}\r\n", 404),
        (f"GET {path}/{secret} HTTP/1.1\r\n{host}{header}{secret}\r\n{close}\r\n", None),
        # Well-formed, but the wrong method, with the secret in the query and a header.
        (f"DELETE {path}?key={secret} HTTP/1.1\r\n{host}{header}{secret}\r\n{close}\r\n", None),
    ]


async def assert_nothing_echoed(service: Service, path: str, header: str, secret: str, shaped: bool) -> None:
    """Every bad request gets a JSON error without the secret; the log never holds it."""
    for raw, expected in bad_requests(path, header, secret, shaped):
        reply = await exchange(service.port, raw.encode())
        assert secret.encode() not in reply, f"secret echoed in the answer to {raw[:60]!r}"
        status = status_of(reply)
        assert status == expected if expected is not None else 400 <= status < 500, (raw[:60], reply[:300])
        headers = headers_of(reply)
        assert headers["content-type"].startswith("application/json")
        assert reply.partition(b"\r\n\r\n")[2].startswith(b'{"detail":"' if status >= 400 else b"{")
        assert (headers["server"], headers["x-content-type-options"]) == ("ringready", "nosniff")
        assert headers["cache-control"] == "no-store"
    log = service.stopped_log()
    assert secret not in log
    assert secret[12:] not in log  # not even the part after a display prefix (rr_live_8f3a)
    assert log.count('"bad_http_request"') >= 8, log[-2000:]  # the requests were logged, without it


async def test_an_api_key_in_a_bad_request_is_never_echoed_or_logged(
    launch: Launch, pg: asyncpg.Pool
) -> None:
    key, _ = await make_key(pg, await insert_account(pg, "edge@example.com", "growth"), ["read"])
    api = await launch("services.api")
    await assert_nothing_echoed(api, "/api/v1/whoami", "Authorization: Bearer ", key, shaped=True)


async def test_a_webhook_secret_in_a_bad_request_is_never_echoed_or_logged(launch: Launch) -> None:
    ingest = await launch("services.ingest")
    await assert_nothing_echoed(
        ingest, "/webhooks/v1/vapi", "X-Vapi-Secret: ", TEST_VAPI_SECRET, shaped=False
    )


# --- 2. A compressed body is refused before anything is inflated ----------------------------------


@cache
def gzip_bomb(gib: int = 1) -> bytes:
    """About 1 MB of gzip that inflates to `gib` GiB of zeros (built from one flushed block)."""
    mib, chunk = gib * 1024, bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)  # the same for every MiB
    last = deflate.compress(chunk) + deflate.flush()
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
    return first + block * (mib - 2) + last[:-8] + struct.pack("<II", crc, (mib << 20) & 0xFFFFFFFF)


@pytest.mark.parametrize(
    ("module", "request_line"),
    [("services.ingest", "POST /webhooks/v1/phone"), ("services.api", "PATCH /api/v1/agents/1")],
)
async def test_a_gzip_bomb_is_refused_unread_and_stalls_nobody(
    launch: Launch, module: str, request_line: str
) -> None:
    service = await launch(module)
    bomb = gzip_bomb()
    head = (
        f"{request_line} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Encoding: gzip\r\nContent-Length: {len(bomb)}\r\n\r\n"
    )
    cpu_before = cpu_seconds(service.process.pid)
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    try:
        writer.write(head.encode() + bomb)
        async with asyncio.timeout(5):
            status_line = await reader.readline()  # the refusal: aiohttp's 413 came within 30 ms
        latency = await answer_time(service.port)  # while the refused body would still inflate
        closed = await closes_within(reader, QUICK_S)  # ... and the rest of the bomb is never read
    finally:
        writer.close()
    cpu = cpu_seconds(service.process.pid) - cpu_before
    assert latency < QUICK_S, f"/healthz took {latency:.2f} s during the bomb"
    assert cpu < 0.5, f"the service spent {cpu:.2f} s of CPU on the bomb"
    assert status_of(status_line) == 415, status_line
    assert closed, f"the bomb's connection was still open after {QUICK_S} s"


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def closes_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """Whether the server closes the connection (EOF or reset) within `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            with contextlib.suppress(ConnectionResetError):
                await reader.read()
    except TimeoutError:
        return False
    return True


# --- 3. Slow bodies, slow headers and idle connections are cut at their deadlines ---------------


@dataclass
class Outcome:
    """How one attacking connection ended: seconds from its first byte, and what it received."""

    closed_after_s: float | None  # None: still open when the test stopped waiting
    reply: bytes


async def trickle(port: int, head: bytes, drip: bytes, give_up_after_s: float) -> Outcome:
    """Send `head`, then `drip` one byte a second, until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()

    async def drip_slowly() -> None:
        # One a second, half a second off the whole-second deadlines (a byte that meets a closed
        # socket gets a reset, which may overtake the 408 in the client); bounded by give_up.
        for byte in drip[: int(give_up_after_s) + 1]:
            await asyncio.sleep(0.5)
            writer.write(bytes([byte]))
            await asyncio.sleep(0.5)

    writer.write(head)
    dripping = asyncio.create_task(drip_slowly())
    try:
        async with asyncio.timeout(give_up_after_s):
            reply = await reader.read()
        return Outcome(time.monotonic() - started, reply)
    except TimeoutError:
        return Outcome(None, b"")
    except ConnectionResetError:
        return Outcome(time.monotonic() - started, b"")
    finally:
        dripping.cancel()
        writer.close()


async def attack(port: int, connections: list[Awaitable[Outcome]]) -> tuple[list[Outcome], float]:
    """Run the attacking connections; meanwhile time a normal request on another connection."""
    attackers = [asyncio.ensure_future(c) for c in connections]
    try:
        latency = await answer_time(port)
    finally:
        outcomes = await asyncio.gather(*attackers)
    return outcomes, latency


def assert_cut_at_deadline(outcomes: list[Outcome], status: int | None, what: str) -> None:
    """Every connection was closed at the deadline (not before, not much after)."""
    still_open = sum(o.closed_after_s is None for o in outcomes)
    waited = DEADLINE_S + SLACK_S
    assert still_open == 0, f"{still_open} of {len(outcomes)} {what} still open after {waited} s"
    times = sorted(o.closed_after_s or 0.0 for o in outcomes)
    assert times[0] >= DEADLINE_S - 0.25 and times[-1] <= waited, (times[0], times[-1])
    if status is not None:
        # A reset may still overtake the answer in the client; what was answered is the status.
        answered = {status_of(o.reply) for o in outcomes if o.reply}
        assert answered == {status}, answered


async def test_slow_bodies_are_cut_at_the_body_deadline(launch: Launch) -> None:
    ingest = await launch(
        "services.ingest",
        RINGREADY_BODY_TIMEOUT_S=str(DEADLINE_S),
        RINGREADY_HEADER_TIMEOUT_S=LONG_S,
        RINGREADY_KEEPALIVE_TIMEOUT_S=LONG_S,
    )
    size = 100_000  # a 100 KB webhook, at one byte a second
    head = (
        "POST /webhooks/v1/phone HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()
    give_up = DEADLINE_S + SLACK_S
    outcomes, latency = await attack(
        ingest.port, [trickle(ingest.port, head, b"x" * size, give_up) for _ in range(100)]
    )
    assert latency < QUICK_S, f"/healthz took {latency:.2f} s during the attack"
    assert_cut_at_deadline(outcomes, 408, "slow bodies")


async def test_slow_headers_are_cut_at_the_header_deadline(launch: Launch) -> None:
    ingest = await launch(
        "services.ingest",
        RINGREADY_HEADER_TIMEOUT_S=str(DEADLINE_S),
        RINGREADY_BODY_TIMEOUT_S=LONG_S,
        RINGREADY_KEEPALIVE_TIMEOUT_S=LONG_S,
    )
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    give_up = DEADLINE_S + SLACK_S
    outcomes, latency = await attack(
        ingest.port, [trickle(ingest.port, head, b"X-Slow: " + b"a" * 100, give_up) for _ in range(200)]
    )
    assert latency < QUICK_S, f"/healthz took {latency:.2f} s during the attack"
    assert_cut_at_deadline(outcomes, 408, "slow header senders")


async def idle(port: int, after_a_request: bool, give_up_after_s: float, gate: asyncio.Semaphore) -> Outcome:
    """A connection that sends nothing (or one request, then nothing) until the server closes it."""
    async with gate:  # don't overrun the listen backlog
        started = time.monotonic()  # before the server can start any clock (this loop lags)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if after_a_request:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(int(headers_of(head)["content-length"]))
        try:
            async with asyncio.timeout(give_up_after_s):
                await reader.read()
        except TimeoutError:
            return Outcome(None, b"")
        return Outcome(time.monotonic() - started, b"")
    finally:
        writer.close()


async def test_idle_connections_are_closed_at_the_keepalive_deadline(launch: Launch) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:  # 1,000 connections each side; the service inherits the limit
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    ingest = await launch(
        "services.ingest",
        RINGREADY_KEEPALIVE_TIMEOUT_S=str(DEADLINE_S),
        RINGREADY_HEADER_TIMEOUT_S=LONG_S,
        RINGREADY_BODY_TIMEOUT_S=LONG_S,
    )
    gate = asyncio.Semaphore(100)
    give_up = DEADLINE_S + SLACK_S
    connections = [idle(ingest.port, n % 10 == 0, give_up, gate) for n in range(1_000)]
    outcomes, latency = await attack(ingest.port, connections)
    assert latency < QUICK_S, f"/healthz took {latency:.2f} s during the attack"
    assert_cut_at_deadline(outcomes, None, "idle connections")


# --- 4. Headers on every response -----------------------------------------------------------------


async def test_every_api_response_carries_the_edge_headers(launch: Launch, pg: asyncpg.Pool) -> None:
    key, _ = await make_key(pg, await insert_account(pg, "headers@example.com", "growth"), ["read"])
    api = await launch("services.api")
    bearer = {"Authorization": f"Bearer {key}"}
    cases = [
        ("/api/v1/whoami", bearer, 200, "no-store"),
        ("/api/v1/whoami", {}, 401, "no-store"),
        ("/api/v1/agents/999999", bearer, 404, "no-store"),
        ("/api/v1/openapi.json", {}, 200, None),
        ("/healthz", {}, 200, "no-store"),
    ]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for path, headers, status, cache_control in cases:
            async with session.get(f"http://127.0.0.1:{api.port}{path}", headers=headers) as reply:
                assert reply.status == status, path
                assert reply.headers.getall("Server") == ["ringready"], path
                assert reply.headers["X-Content-Type-Options"] == "nosniff", path
                assert reply.headers.get("Cache-Control") == cache_control, path
