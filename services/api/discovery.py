"""GET /api/v1/openapi.json and GET /llms.txt: public, served from bytes built once."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from services.api.openapi import OPENAPI_JSON

LLMS_TXT: bytes = (resources.files("services.api") / "llms.txt").read_bytes()


async def openapi_handler(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document."""
    return web.Response(body=OPENAPI_JSON, content_type="application/json")


async def llms_txt_handler(request: web.Request) -> web.Response:
    """The API described for language-model agents (llmstxt.org format)."""
    return web.Response(body=LLMS_TXT, content_type="text/plain", charset="utf-8")
