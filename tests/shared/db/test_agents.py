"""shared/db/agents.py against the test Postgres: the routed phone number and provider ids are
unique, the operator's list sees every agent, the API's reads and writes see one account's."""

from __future__ import annotations

import asyncpg
import pytest

from shared.db.accounts import insert_account
from shared.db.agents import (
    add_provider_id,
    admin_list_agents,
    get_agent,
    insert_agent,
    list_agents,
    patch_agent,
)
from shared.errors import Conflict, NotFound


async def _account(pg: asyncpg.Pool, email: str = "owner@example.com") -> int:
    return await insert_account(pg, email, "growth")


async def test_an_inserted_agent_reads_back_with_the_schema_defaults(pg: asyncpg.Pool) -> None:
    account_id = await _account(pg)
    agent_id = await insert_agent(pg, account_id=account_id, phone_number="+15550100", business_name="Dental")
    row = await get_agent(pg, account_id, agent_id)
    assert row is not None
    assert (row["id"], row["phone_number"], row["business_name"]) == (agent_id, "+15550100", "Dental")
    assert (row["agent_name"], row["subscription_type"], row["voice"]) == ("Ava", "growth", "friendly")
    assert (row["faq"], row["is_suspended"], row["greeting_message"]) == ({}, False, None)
    assert row["features"]["web_chat_enabled"] is True


async def test_a_phone_number_routes_to_one_agent_only(pg: asyncpg.Pool) -> None:
    first, second = await _account(pg), await _account(pg, "other@example.com")
    await insert_agent(pg, account_id=first, phone_number="+15550100", business_name="Dental")
    with pytest.raises(Conflict, match=r"\+15550100 already belongs to an agent"):
        await insert_agent(pg, account_id=second, phone_number="+15550100", business_name="Vet")
    assert await list_agents(pg, second) == []


async def test_agents_without_a_number_do_not_collide(pg: asyncpg.Pool) -> None:
    account_id = await _account(pg)
    ids = [await insert_agent(pg, account_id=account_id, phone_number=None, business_name=n) for n in "ab"]
    assert [row["id"] for row in await list_agents(pg, account_id)] == ids


async def test_an_agent_of_a_missing_account_is_not_found(pg: asyncpg.Pool) -> None:
    with pytest.raises(NotFound, match="no account with id 999999"):
        await insert_agent(pg, account_id=999_999, phone_number=None, business_name="Nobody's")


async def test_a_provider_id_routes_once_per_source(pg: asyncpg.Pool) -> None:
    account_id = await _account(pg)
    one = await insert_agent(pg, account_id=account_id, phone_number=None, business_name="One")
    two = await insert_agent(pg, account_id=account_id, phone_number=None, business_name="Two")
    await add_provider_id(pg, one, "vapi", "asst-1")
    await add_provider_id(pg, two, "retell", "asst-1")  # the same id at another provider is another key
    with pytest.raises(Conflict, match="vapi assistant id asst-1 is already routed"):
        await add_provider_id(pg, two, "vapi", "asst-1")
    with pytest.raises(NotFound, match="no agent with id 999999"):
        await add_provider_id(pg, 999_999, "vapi", "asst-2")
    listed = {row["id"]: row["provider_ids"] for row in await admin_list_agents(pg)}
    assert listed == {one: ["vapi:asst-1"], two: ["retell:asst-1"]}


async def test_the_operator_list_sees_every_account_or_one(pg: asyncpg.Pool) -> None:
    first, second = await _account(pg), await _account(pg, "other@example.com")
    a = await insert_agent(pg, account_id=first, phone_number="+15550100", business_name="A")
    b = await insert_agent(pg, account_id=second, phone_number=None, business_name="B")
    await add_provider_id(pg, b, "vapi", "asst-b")
    await add_provider_id(pg, b, "elevenlabs", "agent-b")
    everyone = await admin_list_agents(pg)
    assert [(row["id"], row["account_id"]) for row in everyone] == [(a, first), (b, second)]
    assert everyone[0]["provider_ids"] == []  # no provider id: an empty array, not NULL
    assert sorted(everyone[1]["provider_ids"]) == ["elevenlabs:agent-b", "vapi:asst-b"]
    assert [row["id"] for row in await admin_list_agents(pg, second)] == [b]
    assert await admin_list_agents(pg, 999_999) == []


async def test_the_api_reads_only_the_accounts_own_agents(pg: asyncpg.Pool) -> None:
    mine, theirs = await _account(pg), await _account(pg, "other@example.com")
    my_agent = await insert_agent(pg, account_id=mine, phone_number=None, business_name="Mine")
    their_agent = await insert_agent(pg, account_id=theirs, phone_number=None, business_name="Theirs")
    assert [row["id"] for row in await list_agents(pg, mine)] == [my_agent]
    assert await get_agent(pg, mine, their_agent) is None
    assert await get_agent(pg, mine, 999_999) is None
    assert (await get_agent(pg, theirs, their_agent)) is not None


async def test_patch_writes_only_the_named_fields(pg: asyncpg.Pool) -> None:
    account_id = await _account(pg)
    agent_id = await insert_agent(
        pg,
        account_id=account_id,
        phone_number=None,
        business_name="Dental",
        business_website="https://a.test",
    )
    assert await patch_agent(pg, account_id, agent_id, ["faq"], {"faq": {"hours": "9-5"}})
    # Named and null clears the field; faq is not named, so it keeps what was written above.
    changed = await patch_agent(
        pg, account_id, agent_id, ["business_name", "business_website"],
        {"business_name": "Dental Care", "business_website": None, "agent_goal": "ignored: not named"},
    )  # fmt: skip
    assert changed
    row = await get_agent(pg, account_id, agent_id)
    assert row is not None
    assert (row["business_name"], row["business_website"]) == ("Dental Care", None)
    assert row["faq"] == {"hours": "9-5"}
    assert row["agent_goal"] == "Answer callers' questions and book appointments."


async def test_patch_of_another_accounts_agent_changes_nothing(pg: asyncpg.Pool) -> None:
    mine, theirs = await _account(pg), await _account(pg, "other@example.com")
    their_agent = await insert_agent(pg, account_id=theirs, phone_number=None, business_name="Theirs")
    assert not await patch_agent(pg, mine, their_agent, ["business_name"], {"business_name": "Stolen"})
    assert not await patch_agent(pg, mine, 999_999, ["business_name"], {"business_name": "Nobody"})
    row = await get_agent(pg, theirs, their_agent)
    assert row is not None and row["business_name"] == "Theirs"


async def test_patch_refuses_fields_the_api_may_not_write(pg: asyncpg.Pool) -> None:
    account_id = await _account(pg)
    agent_id = await insert_agent(pg, account_id=account_id, phone_number="+15550100", business_name="Dental")
    with pytest.raises(ValueError, match=r"not writable: \['is_suspended', 'phone_number'\]"):
        await patch_agent(pg, account_id, agent_id, ["phone_number", "is_suspended"], {"phone_number": "+1"})
    row = await get_agent(pg, account_id, agent_id)
    assert row is not None and (row["phone_number"], row["is_suspended"]) == ("+15550100", False)
