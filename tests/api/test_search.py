"""q= on GET /api/v1/conversations: full-text search over caller name, label, summary and transcript."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from tests.api.conftest import T0, World
from tests.api.contract import Api
from tests.api.factories import bulk_conversations
from tests.api.worker_writes import phone_call, store

LIST = "/api/v1/conversations"


async def found(api: Api, key: str, q: str, **params: str) -> list[int]:
    body = await api.call("GET", LIST, key=key, status=200, params={"q": q, **params})
    return [c["id"] for c in body["conversations"]]


async def test_each_searched_field_finds_its_conversation(api: Api, world: World) -> None:
    key = world.a.key
    assert await found(api, key, "Pat") == [world.a_call]  # caller name
    assert await found(api, key, "booking") == [world.a_call]  # label, any case
    assert await found(api, key, "pricing") == [world.a_chat]  # summary
    assert await found(api, key, "ESTIMATES") == [world.a_call]  # transcript
    assert await found(api, key, "hi") == [world.a_chat]  # the chat's transcript
    assert await found(api, key, "demo") == [world.a_chat]  # label and summary: listed once


async def test_only_words_are_searched_not_roles_or_other_fields(api: Api, world: World) -> None:
    for q in ("agent", "caller", "assistant", "user", "phone", "desktop", "acme.com", "203.0.113.7"):
        assert await found(api, world.a.key, q) == [], q


async def test_websearch_syntax(api: Api, world: World) -> None:
    key = world.a.key
    assert await found(api, key, '"free estimates"') == [world.a_call]
    assert await found(api, key, '"estimates free"') == []
    assert await found(api, key, "free estimates") == [world.a_call]
    assert await found(api, key, "estimates -free") == []
    assert await found(api, key, "estimates or pricing") == [world.a_chat, world.a_call]  # newest first
    assert await found(api, key, '"null"') == []  # the word itself may be searched, quoted
    assert await found(api, key, "!!! ???") == []  # no word at all: nothing matches


async def test_search_never_crosses_accounts(api: Api, world: World) -> None:
    # Both accounts' calls share a transcript; each account finds only its own.
    assert await found(api, world.a.key, "estimates") == [world.a_call]
    assert await found(api, world.b.key, "estimates") == [world.b_call]
    assert await found(api, world.a.key, "estimates", agent_id=str(world.b_agent)) == []
    body = await api.call(
        "GET", LIST, key=world.a.key, status=422, params={"q": "estimates", "before_id": str(world.b_call)}
    )
    assert body["detail"] == "before_id: no such conversation"


async def test_search_combines_with_every_filter(api: Api, world: World) -> None:
    key = world.a.key
    assert await found(api, key, "estimates", channel="web_chat") == []
    assert await found(api, key, "estimates", channel="phone", agent_id=str(world.a_agent)) == [world.a_call]
    assert await found(api, key, "estimates", agent_id=str(world.a_agent2)) == []
    assert await found(api, key, "estimates or hi", since=(T0 - timedelta(minutes=1)).isoformat()) == [
        world.a_chat
    ]


async def test_search_pages_newest_first_like_the_list(api: Api, pg: asyncpg.Pool, world: World) -> None:
    await bulk_conversations(pg, world.a.account_id, [world.a_agent, world.a_agent2], 40, T0, "bulk")
    everything = await api.call("GET", LIST, key=world.a.key, status=200, params={"limit": "200"})
    listed = [c["id"] for c in everything["conversations"] if (c["summary"] or "").startswith("bulk")]
    walked: list[int] = []
    params = {"q": "bulk", "limit": "7"}
    for _ in range(10):
        page = await api.call("GET", LIST, key=world.a.key, status=200, params=params)
        walked += [c["id"] for c in page["conversations"]]
        if page["next_before_id"] is None:
            break
        params["before_id"] = str(page["next_before_id"])
    assert walked == listed and len(walked) == 40


async def test_a_late_enrichment_is_searchable_at_once(api: Api, pg: asyncpg.Pool, world: World) -> None:
    ids = await store(
        pg, world.a.account_id, world.a_agent, phone_call("enriched", version=1, words="bonjour")
    )
    assert await found(api, world.a.key, "bonjour") == [ids["enriched"]]
    assert await found(api, world.a.key, "remboursement") == []
    await store(
        pg,
        world.a.account_id,
        world.a_agent,
        phone_call("enriched", version=2, summary="Remboursement demandé"),
    )
    assert await found(api, world.a.key, "remboursement") == [ids["enriched"]]
    assert await found(api, world.a.key, "demandé") == [ids["enriched"]]  # no stemming, accents kept
    assert await found(api, world.a.key, "bonjour") == []  # the new transcript replaced the old


@pytest.mark.parametrize(
    "value",
    ["", "null", " ", "\u200b", "x" * 201, "refund\n", "a\nb", "a\x00b", "a\tb", "\x7f"],
)
async def test_bad_q_is_422_naming_q(api: Api, world: World, value: str) -> None:
    body = await api.call("GET", LIST, key=world.a.key, status=422, params={"q": value})
    assert body["detail"].startswith("q: ")


async def test_a_repeated_q_is_422(api: Api, world: World) -> None:
    body = await api.call("GET", LIST, key=world.a.key, status=422, params=[("q", "a"), ("q", "b")])
    assert body["detail"].startswith("q: given more than once")


async def test_the_longest_q_is_served(api: Api, world: World) -> None:
    assert await found(api, world.a.key, "é" * 200) == []
