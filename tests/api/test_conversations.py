"""GET /api/v1/conversations and /conversations/{id} against the seed's shapes and bounds."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
import pytest

from services.api.schemas import ConversationDetail, ConversationItem
from shared.models import ListedConversation
from tests.api.conftest import T0, World
from tests.api.contract import Api
from tests.api.factories import bulk_conversations, make_conversation

LIST = "/api/v1/conversations"
ONE = "/api/v1/conversations/{id}"


async def test_list_matches_the_seed_example_shape(api: Api, world: World) -> None:
    body = await api.call(
        "GET", LIST, key=world.a.key, status=200, params={"channel": "web_chat", "limit": "20"}
    )
    assert body == {
        "conversations": [
            {
                "id": world.a_chat, "channel": "web_chat", "agent_id": world.a_agent,
                "from": None, "to": None,
                "caller_name": "Sam", "label": "Demo Request",
                "summary": "Visitor asked for a demo and pricing.",
                "started_at": "2026-06-09T14:03:00Z",
                "ended_at": "2026-06-09T14:07:11Z",
                "duration_seconds": 251, "end_reason": "visitor_ended",
                "is_archived": False, "is_viewed": False,
                "web_chat": {"device_type": "desktop", "origin_url": "https://acme.com/pricing"},
            }
        ],
        "next_before_id": None,
        "limit": 20,
    }  # fmt: skip
    assert list(body["conversations"][0]) == [
        "id", "channel", "agent_id", "from", "to", "caller_name", "label", "summary", "started_at",
        "ended_at", "duration_seconds", "end_reason", "is_archived", "is_viewed", "web_chat",
    ]  # fmt: skip


async def test_list_is_newest_first_with_phone_fields(api: Api, world: World) -> None:
    body = await api.call("GET", LIST, key=world.a.key, status=200)
    assert [c["id"] for c in body["conversations"]] == [world.a_chat, world.a_call]
    call = body["conversations"][1]
    assert (call["from"], call["to"], call["web_chat"]) == ("+15550001111", "+15551234567", None)
    assert body["limit"] == 50 and body["next_before_id"] is None


async def test_filters_channel_agent_and_since(api: Api, world: World) -> None:
    async def ids(**params: str) -> list[int]:
        body = await api.call("GET", LIST, key=world.a.key, status=200, params=params)
        return [c["id"] for c in body["conversations"]]

    assert await ids(channel="phone") == [world.a_call]
    assert await ids(agent_id=str(world.a_agent)) == [world.a_chat, world.a_call]
    assert await ids(agent_id=str(world.a_agent2)) == []
    assert await ids(agent_id=str(world.b_agent)) == []  # another account's agent: nothing of theirs
    assert await ids(since="2026-06-09T14:03:00Z") == [world.a_chat]  # at/after: inclusive
    assert await ids(since="2026-06-09T14:03:01Z") == []
    assert await ids(since="2026-06-09T16:03:00+02:00") == [world.a_chat]
    assert await ids(since="2026-06-09T14:03:00") == [world.a_chat]  # no offset: UTC
    assert await ids(since="2026-06-09") == [world.a_chat, world.a_call]
    assert await ids(channel="phone", agent_id=str(world.a_agent), since="2026-06-09T12:00:00Z") == [
        world.a_call
    ]


@pytest.mark.parametrize(("limit", "status"), [("0", 422), ("1", 200), ("200", 200), ("201", 422)])
async def test_limit_bounds(api: Api, pg: asyncpg.Pool, world: World, limit: str, status: int) -> None:
    await bulk_conversations(pg, world.a.account_id, [world.a_agent], 210, T0 - timedelta(days=1), "b")
    body = await api.call("GET", LIST, key=world.a.key, status=status, params={"limit": limit})
    if status == 422:
        assert body == {"detail": "limit: must be an integer between 1 and 200"}
    else:
        assert len(body["conversations"]) == int(limit) == body["limit"]
        assert body["next_before_id"] == body["conversations"][-1]["id"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "ten"}, "limit"),
        ({"channel": "sms"}, "channel"),
        ({"channel": ""}, "channel"),
        ({"agent_id": "-3"}, "agent_id"),
        ({"agent_id": "x"}, "agent_id"),
        ({"before_id": "0"}, "before_id"),
        ({"before_id": str(2**63)}, "before_id"),
        ({"since": "yesterday"}, "since"),
        ({"cursor": "5"}, "cursor"),
    ],
)
async def test_bad_parameters_are_422_naming_the_field(
    api: Api, world: World, params: dict[str, str], field: str
) -> None:
    body = await api.call("GET", LIST, key=world.a.key, status=422, params=params)
    assert body["detail"].startswith(f"{field}: ")


async def test_unknown_or_foreign_cursor_is_422_not_an_empty_end(api: Api, world: World) -> None:
    for before_id in (world.b_call, 999_999):
        body = await api.call("GET", LIST, key=world.a.key, status=422, params={"before_id": str(before_id)})
        assert body == {"detail": "before_id: no such conversation"}
    # The oldest own conversation is a valid cursor whose next page is simply empty.
    body = await api.call("GET", LIST, key=world.a.key, status=200, params={"before_id": str(world.a_call)})
    assert body == {"conversations": [], "next_before_id": None, "limit": 50}


async def test_detail_of_a_call(api: Api, world: World) -> None:
    body = await api.call("GET", ONE, path_id=world.a_call, key=world.a.key, status=200)
    assert body["transcript"] == [
        {"role": "agent", "content": "Thanks for calling Acme!", "elapsed_s": 0.0},
        {"role": "caller", "content": "Do you do free estimates?", "elapsed_s": 3.5},
    ]
    assert body["recording_url"] == "https://rec.example/a.mp3"
    assert body["web_chat"] is None and body["from"] == "+15550001111"
    listed = (await api.call("GET", LIST, key=world.a.key, status=200, params={"channel": "phone"}))[
        "conversations"
    ][0]
    assert {k: v for k, v in body.items() if k not in ("transcript", "recording_url")} == listed


async def test_detail_of_a_chat_carries_the_visitor_ip_only_there(api: Api, world: World) -> None:
    body = await api.call("GET", ONE, path_id=world.a_chat, key=world.a.key, status=200)
    assert body["web_chat"] == {
        "device_type": "desktop",
        "origin_url": "https://acme.com/pricing",
        "visitor_ip": "203.0.113.7",
    }
    assert body["transcript"] == [{"role": "visitor", "content": "hi", "elapsed_s": 1.0}]
    listed = await api.call("GET", LIST, key=world.a.key, status=200)
    assert "203.0.113.7" not in str(listed)


@pytest.mark.parametrize("bad_id", ["0", "abc", str(2**63), "-1", "999999"])
async def test_detail_of_nothing_is_404(api: Api, world: World, bad_id: str) -> None:
    body = await api.call("GET", ONE, path_id=bad_id, key=world.a.key, status=404)
    assert body == {"detail": "Conversation not found."}


async def test_wrong_method_is_405(api: Api, world: World) -> None:
    body = await api.call("PATCH", ONE, path_id=world.a_call, key=world.a.key, status=405, json={})
    assert body == {"detail": "Method Not Allowed"}
    reply = await api.client.post(LIST, headers={"Authorization": f"Bearer {world.a.key}"})
    assert reply.status == 405 and "GET" in reply.headers["Allow"]


async def test_unpublishable_stored_data_is_a_500_that_leaks_nothing(
    api: Api, pg: asyncpg.Pool, world: World
) -> None:
    bad = [{"role": "robot", "content": "secret internals", "elapsed_s": 0, "raw_role": "x"}]
    await pg.execute(
        "UPDATE conversation_details SET transcript = $2 WHERE conversation_id = $1", world.a_call, bad
    )
    reply = await api.client.get(
        ONE.replace("{id}", str(world.a_call)), headers={"Authorization": f"Bearer {world.a.key}"}
    )
    request_id = reply.headers["X-Request-ID"]
    assert reply.status == 500
    assert await reply.json() == {
        "detail": f"Internal server error; quote request id {request_id} when reporting it."
    }


# The API reads started_at/ended_at as text stored by Postgres (migration 0002); the list and the
# detail must still say exactly what msgspec says for the timestamptz, to the microsecond.
EDGE_TIMESTAMPS = [
    datetime(2026, 6, 9, 14, 3, tzinfo=UTC),
    datetime(2026, 6, 9, 14, 3, 0, 1, tzinfo=UTC),
    datetime(2026, 6, 9, 14, 3, 0, 500000, tzinfo=UTC),
    datetime(2026, 6, 9, 14, 3, 59, 999999, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1900, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


async def test_list_timestamps_are_exact_to_the_microsecond(api: Api, pg: asyncpg.Pool, world: World) -> None:
    rng = random.Random(7)
    span_us = int((datetime(2199, 1, 1, tzinfo=UTC) - datetime(1900, 1, 1, tzinfo=UTC)).total_seconds() * 1e6)
    random_ones = [
        datetime(1900, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(span_us)) for _ in range(60)
    ]
    expected: dict[int, tuple[str, str]] = {}
    for n, started in enumerate(EDGE_TIMESTAMPS + random_ones):
        ended = started + timedelta(seconds=rng.randrange(1, 900), microseconds=rng.randrange(1_000_000))
        conversation_id = await make_conversation(
            pg, world.a.account_id, world.a_agent, started_at=started, ended_at=ended, call_id=f"ts-{n}"
        )
        expected[conversation_id] = (
            msgspec.json.encode(started).decode()[1:-1],
            msgspec.json.encode(ended).decode()[1:-1],
        )
    body = await api.call("GET", LIST, key=world.a.key, status=200, params={"limit": "200"})
    listed = {item["id"]: (item["started_at"], item["ended_at"]) for item in body["conversations"]}
    assert {cid: listed[cid] for cid in expected} == expected
    assert listed[min(expected)] == (
        "2026-06-09T14:03:00Z",
        listed[min(expected)][1],
    )  # no fraction when zero
    for cid in list(expected)[:8]:
        detail = await api.call("GET", ONE, path_id=cid, key=world.a.key, status=200)
        assert (detail["started_at"], detail["ended_at"]) == expected[cid]


def test_item_and_detail_extend_the_one_declaration_in_the_public_order() -> None:
    listed = ListedConversation.__struct_fields__
    assert ConversationItem.__struct_fields__ == (*listed, "web_chat")
    assert ConversationDetail.__struct_fields__ == (*listed, "web_chat", "transcript", "recording_url")
    assert ConversationItem.__struct_encode_fields__[3:5] == ("from", "to")
    # Items are made per row and hold no containers; the detail holds a list, so the GC must see it.
    assert ConversationItem.__struct_config__.gc is False
    assert ConversationDetail.__struct_config__.gc is True
