"""A customer's webhook endpoint for tests: a real aiohttp server on 127.0.0.1 that records every
request and answers as the test tells it to."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# What the endpoint answers to the n-th request (0-based): a status, optional headers, optional delay.
Reply = tuple[int, dict[str, str], float]
Behaviour = Callable[[int, dict[str, Any]], Reply]


@dataclass
class Received:
    """One request as the endpoint saw it."""

    at: float  # time.monotonic()
    headers: dict[str, str]
    body: bytes
    status: int  # what we answered

    @property
    def event(self) -> dict[str, Any]:
        """The decoded body."""
        decoded: dict[str, Any] = json.loads(self.body)
        return decoded


def always(status: int = 200) -> Behaviour:
    """Answer every request with this status."""
    return lambda n, event: (status, {}, 0.0)


@dataclass
class Receiver:
    """The running endpoint: its URL and everything it received."""

    behaviour: Behaviour = field(default_factory=always)
    received: list[Received] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            status, headers, delay = self.behaviour(len(self.received), json.loads(body))
            arrived = time.monotonic()
            if delay:
                await asyncio.sleep(delay)
        finally:
            self.in_flight -= 1
        self.received.append(Received(arrived, dict(request.headers), body, status))
        return web.Response(status=status, headers=headers, text="ok" if status < 300 else "nope")

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        """Close the server."""
        if self._runner is not None:
            await self._runner.cleanup()

    def succeeded(self) -> list[Received]:
        """The requests answered with a 2xx, in arrival order."""
        return [r for r in self.received if 200 <= r.status < 300]


ReceiverFactory = Callable[..., Awaitable[Receiver]]
