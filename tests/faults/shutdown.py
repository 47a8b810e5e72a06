"""Helpers for the SIGTERM tests: a service under a steady stream, a request held in flight, the
clock from SIGTERM to exit. Loopback only; every loop and wait is bounded in time."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from ops.embedded import free_port, port_open
from shared.config import Settings
from tests.faults.processes import service_env, start_service
from tests.helpers import eventually

SHUTDOWN_S = 4  # RINGREADY_SHUTDOWN_TIMEOUT_S in these tests; the default is 20
SLACK_S = 3.0  # closing pools and the interpreter's exit, on a busy 2-core box
STREAM_CLIENTS = 4
STREAM_PAUSE_S = 0.02  # per client between requests: a steady stream, not a flood
STREAM_MAX_S = 30.0  # no stream outlives this, whatever happens


@dataclass
class HttpService:
    """A running api or ingest process on a free loopback port."""

    port: int
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        return self.log_path.read_text()[-3000:]


async def start_http_service(
    settings: Settings, tmp_path: Path, module: str, processes: int = 1, **extra: str
) -> HttpService:
    """`python -m services.api|ingest` with SHUTDOWN_S; returns once it listens."""
    port = free_port()
    name = "API" if module == "services.api" else "INGEST"
    env = service_env(
        settings,
        **{f"RINGREADY_{name}_PORT": str(port), f"RINGREADY_{name}_PROCESSES": str(processes)},
        RINGREADY_SHUTDOWN_TIMEOUT_S=str(SHUTDOWN_S),
        RINGREADY_LOG_LEVEL="info",
        **extra,
    )
    log_path = tmp_path / f"{module}-{port}.log"
    process = start_service(module, env, log_path)
    service = HttpService(port, log_path, process)

    async def listening() -> bool:
        assert process.poll() is None, f"{module} exited: {service.log_tail()}"
        return port_open("127.0.0.1", port)

    await eventually(listening, 30, f"{module} to listen")
    return service


async def sigterm_and_wait(process: subprocess.Popen[bytes], within_s: float) -> float:
    """SIGTERM the process (only it: a multi-process parent must forward it) and return the
    seconds until it exited; fails if that takes longer than within_s."""
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    await eventually(lambda: _exited(process), within_s, "the process to exit after SIGTERM")
    return time.monotonic() - started


async def _exited(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is not None


@dataclass
class Answer:
    """One request of the stream: its id, its status (0: no answer), when it was answered."""

    request_id: str
    status: int
    at: float


Send = Callable[[aiohttp.ClientSession, str], Awaitable[int]]


@dataclass
class Stream:
    """STREAM_CLIENTS clients, each on its own keep-alive connection, sending until stopped."""

    send: Send
    prefix: str
    answers: list[Answer] = field(default_factory=list)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _going: asyncio.Event = field(default_factory=asyncio.Event)
    _sending: int = 0

    def __post_init__(self) -> None:
        self._going.set()

    async def run(self) -> None:
        """Send until stopped (or STREAM_MAX_S); connection errors count as status 0."""
        async with asyncio.timeout(STREAM_MAX_S):
            await asyncio.gather(*(self._client() for _ in range(STREAM_CLIENTS)))

    async def _client(self) -> None:
        async with aiohttp.ClientSession() as session:
            while not self.stopped.is_set():
                await self._going.wait()
                request_id = f"{self.prefix}-{next(self._ids):05d}"
                self._sending += 1
                try:
                    status = await self.send(session, request_id)
                finally:
                    self._sending -= 1
                self.answers.append(Answer(request_id, status, time.monotonic()))
                await asyncio.sleep(STREAM_PAUSE_S)

    @contextlib.asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """No request of the stream is in flight inside this block; it goes on afterwards."""
        self._going.clear()
        try:
            await eventually(self._idle, 10, "the stream's requests to be answered")
            yield
        finally:
            self._going.set()

    async def _idle(self) -> bool:
        return self._sending == 0

    def count(self, status: int) -> int:
        return sum(answer.status == status for answer in self.answers)


class HeldRequest:
    """A request sent up to the middle of its body and held there: in flight at the server
    (its handler is reading the body) until finish() sends the rest."""

    def __init__(self, head: bytes, body: bytes) -> None:
        self._head = head
        self._body = body
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def start(self, port: int) -> None:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
        self._writer.write(self._head + self._body[: len(self._body) // 2])
        await self._writer.drain()

    async def finish(self) -> int:
        """Send the rest of the body; the status of the answer (0 when there was none)."""
        if self._reader is None or self._writer is None:
            raise RuntimeError("start() first")
        try:
            self._writer.write(self._body[len(self._body) // 2 :])
            await self._writer.drain()
            status_line = await asyncio.wait_for(self._reader.readline(), SHUTDOWN_S + SLACK_S)
        except (ConnectionError, TimeoutError):
            return 0
        finally:
            self._writer.close()
        return int(status_line.split()[1]) if status_line else 0

    def abandon(self) -> None:
        if self._writer is not None:
            self._writer.close()


def http_head(method: str, path: str, port: int, body: bytes, headers: dict[str, str]) -> bytes:
    """The request line and headers of an HTTP/1.1 request with this body."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def fresh_connection_status(send: Send, request_id: str) -> int:
    """A request on a new connection: its status, or 0 when the connection was refused."""
    async with aiohttp.ClientSession() as session:
        return await send(session, request_id)
