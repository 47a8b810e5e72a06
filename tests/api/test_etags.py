"""ETags: If-None-Match -> 304 on the agent and conversation reads, If-Match -> 412 on the agent
PATCH (the check and the write in one statement), RFC 9110's weak and strong comparison."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from aiohttp import ClientResponse

from shared.db.agent_admin import set_suspended
from tests.api.conftest import World
from tests.api.contract import Api

AGENTS = "/api/v1/agents"
AGENT = "/api/v1/agents/{id}"
CONVERSATION = "/api/v1/conversations/{id}"


async def get(api: Api, path: str, key: str, **headers: str) -> ClientResponse:
    reply = await api.client.get(path, headers={"Authorization": f"Bearer {key}", **headers})
    await reply.read()
    return reply


async def patch(
    api: Api, agent_id: int, key: str, body: dict[str, Any], status: int, if_match: str | None = None
) -> tuple[Any, ClientResponse]:
    headers = {"If-Match": if_match} if if_match is not None else {}
    reply = await api.client.patch(
        AGENT.format(id=agent_id), json=body, headers={"Authorization": f"Bearer {key}", **headers}
    )
    body = await reply.json()
    assert reply.status == status, (reply.status, body)
    return body, reply


async def etag_of(api: Api, path: str, key: str) -> str:
    reply = await get(api, path, key)
    assert reply.status == 200
    return reply.headers["ETag"]


def weak(etag: str) -> str:
    return f"W/{etag}"


@pytest.mark.parametrize("path", ["agent", "agents", "conversation"])
async def test_an_unchanged_read_is_304_with_its_etag_and_no_body(api: Api, world: World, path: str) -> None:
    url = {"agent": AGENT.format(id=world.a_agent), "agents": AGENTS}.get(
        path, CONVERSATION.format(id=world.a_call)
    )
    first = await get(api, url, world.a.key)
    etag = first.headers["ETag"]
    assert first.status == 200 and etag.startswith('"') and etag.endswith('"')
    assert first.headers["Cache-Control"] == "private, no-cache"
    for condition in (etag, weak(etag), "*", f'"other", {etag}', f'W/"x",{weak(etag)}', f" {etag} "):
        reply = await get(api, url, world.a.key, **{"If-None-Match": condition})
        assert reply.status == 304, condition
        assert await reply.read() == b""
        assert reply.headers["ETag"] == etag and reply.headers["Cache-Control"] == "private, no-cache"
        assert reply.headers["X-RateLimit-Limit"]  # a 304 is still a counted, authenticated answer
    for condition in ('"other"', 'W/"other", "x"', '""'):
        reply = await get(api, url, world.a.key, **{"If-None-Match": condition})
        assert reply.status == 200 and reply.headers["ETag"] == etag


MALFORMED = ["abc", '"a" "b"', '"a",', "W/*", '"a"b"', "*, *", '"\u00e9"']


@pytest.mark.parametrize("value", MALFORMED)
async def test_an_if_match_outside_the_grammar_is_422_and_writes_nothing(
    api: Api, pg: asyncpg.Pool, world: World, value: str
) -> None:
    body, _ = await patch(api, world.a_agent, world.a.key, {"business_name": "New"}, 422, value)
    assert body["detail"].startswith("If-Match: must be * or")
    assert await pg.fetchval("SELECT version FROM agents WHERE id = $1", world.a_agent) == 1


@pytest.mark.parametrize("value", MALFORMED)
async def test_an_if_none_match_outside_the_grammar_is_ignored(api: Api, world: World, value: str) -> None:
    reply = await get(api, AGENT.format(id=world.a_agent), world.a.key, **{"If-None-Match": value})
    assert reply.status == 200 and reply.headers["ETag"]


async def test_two_writers_with_one_etag_the_first_wins_the_second_gets_412(
    api: Api, pg: asyncpg.Pool, world: World
) -> None:
    etag = await etag_of(api, AGENT.format(id=world.a_agent), world.a.key)
    first = {"faq": {"Open on Sundays?": "Yes."}}
    body, reply = await patch(api, world.a_agent, world.a.key, first, 200, etag)
    assert body == {"id": world.a_agent, "updated": ["faq"]}
    new_etag = reply.headers["ETag"]
    assert new_etag != etag
    second = {"faq": {"Do you do estimates?": "Free."}, "business_name": "Overwritten"}
    body, _ = await patch(api, world.a_agent, world.a.key, second, 412, etag)
    assert body["detail"].startswith("The agent changed since you read it")
    await api.call("PATCH", AGENT, path_id=world.a_agent, key=world.a.key, status=412, json=second,
                   headers={"If-Match": etag})  # fmt: skip
    agent = await api.call("GET", AGENT, path_id=world.a_agent, key=world.a.key, status=200)
    assert agent["faq"] == first["faq"] and agent["business_name"] == "Acme Plumbing"
    assert await etag_of(api, AGENT.format(id=world.a_agent), world.a.key) == new_etag
    # The new ETag (from the PATCH's answer, without a GET) writes again.
    await patch(api, world.a_agent, world.a.key, second, 200, new_etag)


async def test_concurrent_conditional_writes_exactly_one_wins(
    api: Api, pg: asyncpg.Pool, world: World
) -> None:
    etag = await etag_of(api, AGENT.format(id=world.a_agent), world.a.key)
    names = [f"Writer {n}" for n in range(8)]

    async def write(name: str) -> int:
        reply = await api.client.patch(
            AGENT.format(id=world.a_agent),
            json={"business_name": name},
            headers={"Authorization": f"Bearer {world.a.key}", "If-Match": etag},
        )
        await reply.read()
        return reply.status

    statuses = await asyncio.gather(*(write(name) for name in names))
    assert sorted(statuses) == [200] + [412] * (len(names) - 1)
    winner = names[statuses.index(200)]
    row = await pg.fetchrow("SELECT business_name, version FROM agents WHERE id = $1", world.a_agent)
    assert row is not None and row["business_name"] == winner and row["version"] == 2


async def test_if_match_compares_strongly_and_names_one_agent(
    api: Api, pg: asyncpg.Pool, world: World
) -> None:
    etag = await etag_of(api, AGENT.format(id=world.a_agent), world.a.key)
    other = await etag_of(api, AGENT.format(id=world.a_agent2), world.a.key)
    change = {"business_name": "Changed"}
    for refused in (weak(etag), other, '"agent-1-v99999999999999999999"', '""'):
        await patch(api, world.a_agent, world.a.key, change, 412, refused)
    assert await pg.fetchval("SELECT version FROM agents WHERE id = $1", world.a_agent) == 1
    await patch(api, world.a_agent, world.a.key, change, 200, f'W/"x", {other}, {etag}')
    await patch(api, world.a_agent, world.a.key, change, 200, "*")
    await patch(api, world.a_agent, world.a.key, change, 200)  # no If-Match: as before, unconditional


async def test_another_accounts_agent_is_404_whatever_the_condition(api: Api, world: World) -> None:
    theirs = await etag_of(api, AGENT.format(id=world.b_agent), world.b.key)
    for condition in (theirs, "*", '"nope"', None):
        await patch(api, world.b_agent, world.a.key, {"business_name": "Stolen"}, 404, condition)
        await patch(api, 999_999, world.a.key, {"business_name": "Nobody"}, 404, condition)
    reply = await get(api, AGENT.format(id=world.b_agent), world.a.key, **{"If-None-Match": theirs})
    assert reply.status == 404


async def test_any_write_changes_the_agents_etags(api: Api, pg: asyncpg.Pool, world: World) -> None:
    one, listed = AGENT.format(id=world.a_agent), AGENTS
    before = (await etag_of(api, one, world.a.key), await etag_of(api, listed, world.a.key))
    await set_suspended(pg, world.a_agent, True)  # the operator's CLI, not the API
    after = (await etag_of(api, one, world.a.key), await etag_of(api, listed, world.a.key))
    assert after[0] != before[0]
    assert after[1] == before[1]  # the list doesn't show is_suspended: same bytes, same tag
    await pg.execute("UPDATE agents SET business_name = 'Renamed' WHERE id = $1", world.a_agent)
    assert await etag_of(api, listed, world.a.key) != before[1]
    # A write outside the API in between makes an If-Match with the older ETag fail too.
    await patch(api, world.a_agent, world.a.key, {"agent_goal": "Book visits."}, 412, after[0])
    current = await etag_of(api, one, world.a.key)
    await patch(api, world.a_agent, world.a.key, {"agent_goal": "Book visits."}, 200, current)


async def test_a_conversations_etag_follows_a_late_enrichment(
    api: Api, pg: asyncpg.Pool, world: World
) -> None:
    url = CONVERSATION.format(id=world.a_call)
    etag = await etag_of(api, url, world.a.key)
    await pg.execute("UPDATE conversations SET label = 'Emergency' WHERE id = $1", world.a_call)
    labelled = await etag_of(api, url, world.a.key)
    assert labelled != etag
    transcript = [{"role": "caller", "content": "Water everywhere!", "elapsed_s": 1.0, "raw_role": "user"}]
    await pg.execute(
        "UPDATE conversation_details SET transcript = $2 WHERE conversation_id = $1", world.a_call, transcript
    )
    enriched = await get(api, url, world.a.key, **{"If-None-Match": labelled})
    assert enriched.status == 200 and enriched.headers["ETag"] not in (etag, labelled)
    # Another account's conversation is a 404 even with its ETag.
    theirs = await etag_of(api, CONVERSATION.format(id=world.b_call), world.b.key)
    reply = await get(api, CONVERSATION.format(id=world.b_call), world.a.key, **{"If-None-Match": theirs})
    assert reply.status == 404
