"""The webhooks-out bench's receiver, in a process of its own so that neither the ceiling's nor the
worker's figure pays for the receiver's CPU: POST /hook reads the body and answers 204 at once.

    .venv/bin/python -m bench.webhooks_receiver   # prints its port on the first line, then serves
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web


async def hook(request: web.Request) -> web.Response:
    """Read the whole body, as a real receiver would, and acknowledge it."""
    await request.read()
    return web.Response(status=204)


async def serve() -> None:
    """Listen on a free loopback port, print it, serve until killed."""
    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()


@contextmanager
def receiver_process() -> Iterator[tuple[str, int]]:
    """The receiver running in a child process for the block; its URL and pid."""
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.webhooks_receiver"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        yield f"http://127.0.0.1:{port}/hook", child.pid
    finally:
        child.terminate()
        child.wait(10)


if __name__ == "__main__":
    asyncio.run(serve())
