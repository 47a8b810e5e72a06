from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestServer

from ops.cli.probe import main


async def _status(request: web.Request) -> web.Response:
    return web.Response(status=int(request.match_info["code"]))


async def test_probe_passes_only_on_200(aiohttp_server, capsys) -> None:  # type: ignore[no-untyped-def]
    app = web.Application()
    app.router.add_get("/{code}", _status)
    server: TestServer = await aiohttp_server(app)
    base = f"http://127.0.0.1:{server.port}"
    assert await asyncio.to_thread(main, [f"{base}/200"]) == 0
    assert await asyncio.to_thread(main, [f"{base}/503"]) == 1
    assert capsys.readouterr().err == f"unhealthy: {base}/503\n"


def test_probe_fails_when_nothing_listens_and_rejects_bad_usage() -> None:
    assert main(["http://127.0.0.1:1/readyz"]) == 1
    assert main([]) == 2
    assert main(["--worker"]) == 2
