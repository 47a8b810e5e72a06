"""An event's `data` is what the Developer API shows for the same thing, at the time of the change."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from shared.config import Settings
from tests.api.factories import make_key
from tests.webhooks.conftest import Listener, store


async def _get(client: TestClient, key: str, path: str) -> Any:
    reply = await client.get(path, headers={"Authorization": f"Bearer {key}"})
    assert reply.status == 200
    return await reply.json()


async def test_conversation_data_is_the_api_detail(
    aiohttp_client: Any, settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    await listener.endpoint()
    await store(pg, "call-detail", recording_url="https://rec.example/r.mp3")
    chat = {"source": "web_chat", "channel": "web_chat", "agent_id": listener.agent_id, "to_number": None}
    web = {"device_type": "mobile", "origin_url": "https://a.test/", "visitor_ip": "203.0.113.9"}
    await store(pg, "chat-detail", **chat, **web)
    key, _ = await make_key(pg, listener.account_id, ["read"])
    client = await aiohttp_client(create_app(settings))
    rows = await pg.fetch("SELECT subject, payload FROM webhook_events ORDER BY id")
    assert len(rows) == 2
    for row in rows:
        conversation_id = row["subject"].removeprefix("conversation:")
        assert row["payload"]["data"] == await _get(client, key, f"/api/v1/conversations/{conversation_id}")
    assert rows[1]["payload"]["data"]["web_chat"]["visitor_ip"] == "203.0.113.9"


async def test_agent_patch_emits_agent_updated_with_the_api_agent(
    aiohttp_client: Any, settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    await listener.endpoint()
    key, _ = await make_key(pg, listener.account_id, ["read", "write"])
    client = await aiohttp_client(create_app(settings))
    path = f"/api/v1/agents/{listener.agent_id}"
    reply = await client.patch(
        path,
        json={"faq": {"Open?": "Yes"}, "greeting_message": "Hi!"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert reply.status == 200
    rows = await pg.fetch("SELECT type, subject, payload FROM webhook_events")
    assert [(r["type"], r["subject"]) for r in rows] == [("agent.updated", f"agent:{listener.agent_id}")]
    assert rows[0]["payload"]["data"] == await _get(client, key, path)
    assert rows[0]["payload"]["data"]["greeting_message"] == "Hi!"


async def test_agent_patch_of_a_quiet_account_emits_nothing(
    aiohttp_client: Any, settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    key, _ = await make_key(pg, listener.account_id, ["read", "write"])
    client = await aiohttp_client(create_app(settings))
    reply = await client.patch(
        f"/api/v1/agents/{listener.agent_id}",
        json={"agent_goal": "Help."},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert reply.status == 200
    assert await pg.fetchval("SELECT count(*) FROM webhook_events") == 0
