"""The seed's own Python snippets, run unchanged (but for BASE and the key) against a live server.

Only the Claude call of the full example is stood in for: `anthropic` isn't a dependency, so a tiny
stand-in SDK posts the request to a local aiohttp fake of the Messages API (real HTTP, loopback)."""

from __future__ import annotations

import asyncio
import json
import sys
import types
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
import requests
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.api.app import create_app
from shared.config import Settings
from tests.api import seed_snippets
from tests.api.conftest import T0, TRANSCRIPT
from tests.api.factories import Tenant, bulk_conversations, make_agent, make_conversation, make_tenant

ADDITIONS = [{"question": f"Question {i}?", "answer": f"Answer {i}."} for i in range(5)]


async def _seed_world(pg: asyncpg.Pool) -> Tenant:
    """Ids the snippets hard-code: agent 7 and web chat 184 (identities restart per test)."""
    tenant = await make_tenant(pg, "you@example.com")
    for n in range(1, 7):
        await make_agent(pg, tenant.account_id, f"+1555000000{n}", business_name=f"Other {n}")
    agent = await make_agent(pg, tenant.account_id, "+15551234567", business_name="Acme Plumbing")
    assert agent == 7
    await bulk_conversations(pg, tenant.account_id, [agent], 183, T0 - timedelta(hours=1), "seed")
    chat = await make_conversation(
        pg, tenant.account_id, agent, channel="web_chat", started_at=T0, ended_at=T0 + timedelta(seconds=251),
        call_id="chat-184", caller_name="Sam", label="Demo Request",
        summary="Visitor asked for a demo and pricing.", end_reason="visitor_ended", device_type="desktop",
        origin_url="https://acme.com/pricing", transcript=TRANSCRIPT,
    )  # fmt: skip
    assert chat == 184
    return tenant


def _run(code: str, base: str, key: str, namespace: dict[str, Any]) -> list[str]:
    """Exec one snippet with only BASE and the key swapped; returns what it printed."""
    assert seed_snippets.SEED_BASE in code or "BASE" in namespace
    code = code.replace(seed_snippets.SEED_BASE, base).replace(seed_snippets.SEED_KEY, key)
    printed: list[str] = []
    namespace["print"] = lambda *args: printed.append(" ".join(map(str, args)))
    exec(compile(code, "<seed snippet>", "exec"), namespace)  # noqa: S102 -- the seed's own code
    return printed


async def _fake_claude(aiohttp_server: Any, received: list[dict[str, Any]]) -> TestServer:
    async def messages(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"content": [{"type": "text", "text": json.dumps(ADDITIONS)}]})

    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    server: TestServer = await aiohttp_server(app)
    return server


def _stand_in_sdk(url: str) -> types.ModuleType:
    """`from anthropic import Anthropic` -> a client whose messages.create posts to the fake."""

    class Messages:
        def create(self, **kwargs: Any) -> Any:
            reply = requests.post(url, json=kwargs, timeout=10).json()
            blocks = [types.SimpleNamespace(**block) for block in reply["content"]]
            return types.SimpleNamespace(content=blocks)

    class Anthropic:
        def __init__(self) -> None:
            self.messages = Messages()

    module = types.ModuleType("anthropic")
    module.Anthropic = Anthropic  # type: ignore[attr-defined]
    return module


async def test_the_seed_snippets_run_unchanged(
    aiohttp_server, settings: Settings, pg: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    tenant = await _seed_world(pg)
    server: TestServer = await aiohttp_server(create_app(settings))
    base = str(server.make_url("")).rstrip("/")
    assert base.startswith("http://127.0.0.1:")
    ns: dict[str, Any] = {}

    printed = await asyncio.to_thread(_run, seed_snippets.QUICKSTART, base, tenant.key, ns)
    assert ns["r"].status_code == 200
    assert ns["r"].json()["auth_method"] == "api_key" and ns["r"].json()["scopes"] == ["read", "write"]
    assert printed == [str(ns["r"].json())]

    printed = await asyncio.to_thread(_run, seed_snippets.LIST, base, tenant.key, ns)
    first = ns["data"]["conversations"][0]
    assert (
        first["id"] == 184
        and first["agent_id"] == 7
        and first["web_chat"]["origin_url"] == "https://acme.com/pricing"
    )
    assert printed[0] == "2026-06-09T14:03:00Z · Demo Request · Visitor asked for a demo and pricing."
    assert len(printed) == 20 and ns["data"]["next_before_id"] == ns["data"]["conversations"][-1]["id"]
    assert len(ns["more"]["conversations"]) == 50  # the next page, default limit

    printed = await asyncio.to_thread(_run, seed_snippets.DETAIL, base, tenant.key, ns)
    assert printed == ["agent: Thanks for calling Acme!", "caller: Do you do free estimates?"]

    await asyncio.to_thread(_run, seed_snippets.AGENTS, base, tenant.key, ns)
    assert ns["agents"][6]["id"] == 7 and ns["agents"][6]["business_name"] == "Acme Plumbing"

    printed = await asyncio.to_thread(_run, seed_snippets.PATCH, base, tenant.key, ns)
    assert printed == ["{'id': 7, 'updated': ['agent_goal', 'greeting_message', 'faq']}"]
    assert (
        await pg.fetchval("SELECT agent_goal FROM agents WHERE id = 7")
        == "Qualify the caller, then book a consultation."
    )

    received: list[dict[str, Any]] = []
    fake = await _fake_claude(aiohttp_server, received)
    monkeypatch.setitem(sys.modules, "anthropic", _stand_in_sdk(str(fake.make_url("/v1/messages"))))
    printed = await asyncio.to_thread(_run, seed_snippets.FULL_EXAMPLE, base, tenant.key, {})
    assert printed == ["Added 5 answers to the FAQ."]
    assert received[0]["messages"][0]["content"].startswith("Here are 50 receptionist transcripts. ")
    faq = await pg.fetchval("SELECT faq FROM agents WHERE id = 7")
    assert len(faq) == 3 + 5 and all(faq[a["question"]] == a["answer"] for a in ADDITIONS)
