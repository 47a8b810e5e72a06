"""An agent's FAQ comes back in the order it was written (migration 0006: json, not jsonb, which
sorts an object's keys shortest first)."""

from __future__ import annotations

import asyncpg
import msgspec

from tests.api.conftest import World
from tests.api.contract import Api

AGENT = "/api/v1/agents/{id}"
# Longest first: jsonb would give them back shortest first, i.e. reversed.
WRITTEN = {
    "Do you offer emergency service at night and on public holidays?": "Yes, 24/7.",
    "Do you give free estimates?": "Yes, on every job.",
    "Zip codes?": "All of Springfield.",
    "Cost?": "From $90.",
}
JSONB_ORDER_SQL = "SELECT array(SELECT jsonb_object_keys($1::jsonb))"
LISTENING_SQL = (
    "INSERT INTO webhook_endpoints (account_id, url, secret) VALUES ($1, 'https://hooks.example/', 'whsec_x')"
)


async def test_the_faq_reads_back_in_the_order_written(api: Api, pg: asyncpg.Pool, world: World) -> None:
    jsonb_order = await pg.fetchval(JSONB_ORDER_SQL, WRITTEN)
    assert jsonb_order != list(WRITTEN)  # the test means something: jsonb would reorder these
    await api.call("PATCH", AGENT, path_id=world.a_agent, key=world.a.key, status=200, json={"faq": WRITTEN})
    reply = await api.client.get(
        AGENT.format(id=world.a_agent), headers={"Authorization": f"Bearer {world.a.key}"}
    )
    raw = await reply.read()
    # Decoded into a dict, the body's own key order (dicts keep insertion order).
    assert list(msgspec.json.decode(raw)["faq"]) == list(WRITTEN)
    # Rewritten in another order, it comes back in that one.
    reordered = dict(reversed(WRITTEN.items()))
    await api.call(
        "PATCH", AGENT, path_id=world.a_agent, key=world.a.key, status=200, json={"faq": reordered}
    )
    body = await api.call("GET", AGENT, path_id=world.a_agent, key=world.a.key, status=200)
    assert list(body["faq"]) == list(reordered)


async def test_the_agent_updated_event_keeps_the_order_too(api: Api, pg: asyncpg.Pool, world: World) -> None:
    await pg.execute(LISTENING_SQL, world.a.account_id)
    await api.call("PATCH", AGENT, path_id=world.a_agent, key=world.a.key, status=200, json={"faq": WRITTEN})
    payload = await pg.fetchval("SELECT payload::text FROM webhook_events WHERE type = 'agent.updated'")
    assert list(msgspec.json.decode(payload)["data"]["faq"]) == list(WRITTEN)


async def test_a_faq_patch_leaves_no_whitespace_or_duplicates_behind(
    api: Api, pg: asyncpg.Pool, world: World
) -> None:
    # A duplicated question: the last answer wins, once (as JSON object decoding does everywhere).
    raw = b'{"faq": {"Cost?": "old", "Zip codes?": "All.", "Cost?": "From $90."}}'
    headers = {"Content-Type": "application/json"}
    await api.call(
        "PATCH", AGENT, path_id=world.a_agent, key=world.a.key, status=200, data=raw, headers=headers
    )
    stored = await pg.fetchval("SELECT faq::text FROM agents WHERE id = $1", world.a_agent)
    assert stored == '{"Cost?":"From $90.","Zip codes?":"All."}'
