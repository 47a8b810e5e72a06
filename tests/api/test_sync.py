"""GET /api/v1/conversations/sync: every change once, in change order, held back behind open writes."""

from __future__ import annotations

import base64
from typing import Any

import asyncpg
import pytest

from services.api.sync import decode_cursor, encode_cursor
from tests.api.conftest import World
from tests.api.contract import Api
from tests.api.worker_writes import phone_call, store

SYNC = "/api/v1/conversations/sync"


async def sync_page(api: Api, key: str, **params: str) -> dict[str, Any]:
    body: dict[str, Any] = await api.call("GET", SYNC, key=key, status=200, params=params)
    return body


async def sync_all(api: Api, key: str, cursor: str | None = None, **params: str) -> tuple[list[int], str]:
    """Every id the sync returns from the cursor until end_of_stream, and the cursor it ends on."""
    ids: list[int] = []
    for _ in range(100):  # bounded: a few pages in these tests
        page = await sync_page(api, key, **params, **({"cursor": cursor} if cursor else {}))
        ids += [c["id"] for c in page["conversations"]]
        cursor = page["next_cursor"]
        if page["end_of_stream"]:
            return ids, page["next_cursor"]
    raise AssertionError("sync never reached end_of_stream")


async def test_a_first_sync_returns_every_conversation_once_then_nothing(api: Api, world: World) -> None:
    ids, cursor = await sync_all(api, world.a.key)
    assert ids == [world.a_call, world.a_chat]  # written one after the other, in that order
    again = await sync_page(api, world.a.key, cursor=cursor)
    assert again == {"conversations": [], "next_cursor": cursor, "end_of_stream": True}
    items = (await sync_page(api, world.a.key))["conversations"]
    listed = (await api.call("GET", "/api/v1/conversations", key=world.a.key, status=200))["conversations"]
    assert sorted(items, key=lambda c: c["id"]) == sorted(
        listed, key=lambda c: c["id"]
    )  # the list item shape


async def test_pages_follow_the_cursor_and_say_when_the_stream_ends(api: Api, world: World) -> None:
    first = await sync_page(api, world.a.key, limit="1")
    assert [c["id"] for c in first["conversations"]] == [world.a_call] and not first["end_of_stream"]
    second = await sync_page(api, world.a.key, limit="1", cursor=first["next_cursor"])
    assert [c["id"] for c in second["conversations"]] == [world.a_chat] and second["end_of_stream"]


async def test_a_late_enrichment_comes_again_and_a_stale_event_does_not(
    api: Api, pg: asyncpg.Pool, world: World
) -> None:
    ids = await store(pg, world.a.account_id, world.a_agent, phone_call("late", version=1))
    _, cursor = await sync_all(api, world.a.key)
    await store(
        pg, world.a.account_id, world.a_agent, phone_call("late", version=3, summary="Asked for a refund")
    )
    page = await sync_page(api, world.a.key, cursor=cursor)
    assert [(c["id"], c["summary"]) for c in page["conversations"]] == [(ids["late"], "Asked for a refund")]
    # An older event changes nothing (the upsert keeps the newer one), so nothing comes.
    assert await store(pg, world.a.account_id, world.a_agent, phone_call("late", version=2)) == {}
    assert (await sync_page(api, world.a.key, cursor=page["next_cursor"]))["conversations"] == []


async def test_a_write_that_commits_late_is_held_back_not_skipped(
    api: Api, pg: asyncpg.Pool, world: World
) -> None:
    _, cursor = await sync_all(api, world.a.key)
    async with pg.acquire() as slow, pg.acquire() as fast:
        slow_tx = slow.transaction()
        await slow_tx.start()
        slow_ids = await store(slow, world.a.account_id, world.a_agent, phone_call("slow", version=1))
        fast_ids = await store(fast, world.a.account_id, world.a_agent, phone_call("fast", version=1))
        # "fast" is committed, but "slow" (an older transaction) could still commit before it.
        held = await sync_page(api, world.a.key, cursor=cursor)
        assert held["conversations"] == [] and held["end_of_stream"] and held["next_cursor"] == cursor
        await slow_tx.commit()
    ids, _ = await sync_all(api, world.a.key, cursor)
    assert ids == [slow_ids["slow"], fast_ids["fast"]]


async def test_a_rolled_back_write_never_shows(api: Api, pg: asyncpg.Pool, world: World) -> None:
    _, cursor = await sync_all(api, world.a.key)
    async with pg.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await store(conn, world.a.account_id, world.a_agent, phone_call("gone", version=1))
        await tx.rollback()
    kept = await store(pg, world.a.account_id, world.a_agent, phone_call("kept", version=1))
    assert (await sync_all(api, world.a.key, cursor))[0] == [kept["kept"]]


async def test_another_accounts_changes_never_show(api: Api, pg: asyncpg.Pool, world: World) -> None:
    b_cursor = (await sync_all(api, world.b.key))[1]
    assert (await sync_all(api, world.b.key))[0] == [world.b_call]
    await store(pg, world.b.account_id, world.b_agent, phone_call("b-new", version=1))
    a_ids, a_cursor = await sync_all(api, world.a.key)
    assert a_ids == [world.a_call, world.a_chat]
    # Filters and cursors from the other account only narrow what A sees.
    assert (await sync_all(api, world.a.key, agent_id=str(world.b_agent)))[0] == []
    assert (await sync_all(api, world.a.key, b_cursor))[0] == []
    # A's cursor stops at A's last row: B from there gets its own rows written since, nothing of A's.
    b_new = await pg.fetchval("SELECT id FROM conversations WHERE provider_call_id = 'b-new'")
    assert (await sync_all(api, world.b.key, a_cursor))[0] == [world.b_call, b_new]


async def test_filters_narrow_the_stream(api: Api, world: World) -> None:
    assert (await sync_all(api, world.a.key, channel="web_chat"))[0] == [world.a_chat]
    assert (await sync_all(api, world.a.key, channel="phone", agent_id=str(world.a_agent)))[0] == [
        world.a_call
    ]
    assert (await sync_all(api, world.a.key, agent_id=str(world.a_agent2)))[0] == []


def test_the_cursor_round_trips_and_is_opaque_text() -> None:
    for position in [(0, 0), (1, 1), (2**64 - 1, 2**63 - 1), (123_456_789, 42)]:
        cursor = encode_cursor(position)
        assert decode_cursor(cursor) == position
        assert cursor.isascii() and "=" not in cursor


def _bytes_cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("cursor", "null"),
        ("cursor", ""),
        ("cursor", "not a cursor"),
        ("cursor", _bytes_cursor(b"\x02" + bytes(16))),  # another version
        ("cursor", _bytes_cursor(b"\x01" + bytes(8) + b"\x80" + bytes(7))),  # an id past bigint
        ("cursor", _bytes_cursor(b"\x01" + bytes(15))),  # too short
        ("cursor", encode_cursor((5, 5)) + "A"),
        ("cursor", encode_cursor((5, 5))[:-1] + "B"),  # the same bytes, not as we spell them
        ("limit", "0"),
        ("limit", "201"),
        ("limit", "null"),
        ("agent_id", "null"),
        ("agent_id", "0"),
        ("channel", "null"),
        ("channel", "fax"),
        ("before_id", "1"),  # the list's parameter, not the sync's
    ],
)
async def test_bad_values_are_422_naming_the_parameter(api: Api, world: World, name: str, value: str) -> None:
    body = await api.call("GET", SYNC, key=world.a.key, status=422, params={name: value})
    assert body["detail"].startswith(f"{name}: ")


async def test_a_repeated_parameter_is_422(api: Api, world: World) -> None:
    cursor = encode_cursor((0, 0))
    body = await api.call(
        "GET", SYNC, key=world.a.key, status=422, params=[("cursor", cursor), ("cursor", cursor)]
    )
    assert body["detail"].startswith("cursor: given more than once")


async def test_it_needs_a_read_key(api: Api, world: World) -> None:
    await api.call("GET", SYNC, key=world.a.write_only_key, status=403)
    await api.call("GET", SYNC, key=None, status=401)
    await sync_page(api, world.a.read_key)
