from __future__ import annotations

import json

import asyncpg
import pytest

from tests.ops.cli.conftest import Run, one_error_line


@pytest.fixture
async def account(ringready: Run) -> None:
    assert (await ringready("accounts", "create", "--email", "owner@acme.test", "--plan", "growth")).code == 0


async def _agent_counts(pg: asyncpg.Pool) -> tuple[int, int]:
    row = await pg.fetchrow("SELECT (SELECT count(*) FROM agents), (SELECT count(*) FROM agent_provider_ids)")
    return row[0], row[1]


async def test_create_normalises_phone_and_routes_provider_ids(
    ringready: Run, pg: asyncpg.Pool, account: None
) -> None:
    result = await ringready(
        "agents", "create", "--account", "owner@acme.test", "--phone", "+1 (555) 010-0001",
        "--business-name", "Acme Dental", "--agent-name", "Ava", "--goal", "Book cleanings",
        "--services", "Cleanings, whitening", "--website", "https://acme.test", "--greeting", "Hi!",
        "--provider-id", "vapi:asst_1", "--provider-id", "retell:agent_9",
    )  # fmt: skip
    assert result.code == 0, result
    row = await pg.fetchrow("SELECT * FROM agents")
    assert row["phone_number"] == "+15550100001"
    assert (row["account_id"], row["business_name"], row["agent_goal"]) == (
        1,
        "Acme Dental",
        "Book cleanings",
    )
    assert (row["business_services"], row["business_website"]) == (
        "Cleanings, whitening",
        "https://acme.test",
    )
    assert (row["greeting_message"], row["is_suspended"]) == ("Hi!", False)
    routes = await pg.fetch(
        "SELECT source, provider_assistant_id, agent_id FROM agent_provider_ids ORDER BY 1"
    )
    assert [tuple(r) for r in routes] == [("retell", "agent_9", row["id"]), ("vapi", "asst_1", row["id"])]
    assert result.out == f"Created agent {row['id']} for account 1: Acme Dental, phone +15550100001\n"


async def test_list_shows_agents_with_their_routes(ringready: Run, account: None) -> None:
    await ringready("agents", "create", "--account", "1", "--phone", "+15550100001", "--business-name", "A",
                    "--provider-id", "elevenlabs:el_1")  # fmt: skip
    await ringready("agents", "create", "--account", "1", "--business-name", "Chat only")
    listed = json.loads((await ringready("agents", "list", "--json")).out)
    assert [(a["id"], a["phone_number"], a["business_name"], a["provider_ids"]) for a in listed] == [
        (1, "+15550100001", "A", ["elevenlabs:el_1"]),
        (2, None, "Chat only", []),
    ]
    table = (await ringready("agents", "list", "--account", "owner@acme.test")).out.splitlines()
    assert table[0].split()[:3] == ["id", "account_id", "phone_number"]
    assert len(table) == 3
    assert "no account nobody@acme.test" in one_error_line(
        await ringready("agents", "list", "--account", "nobody@acme.test")
    )


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--account", "1", "--phone", "555-0100", "--business-name", "A"], "not an E.164 phone number"),
        (["--account", "1", "--phone", "+1555abc0001", "--business-name", "A"], "not an E.164 phone number"),
        (["--account", "1", "--phone", "+1234567890123456", "--business-name", "A"], "E.164"),
        (["--account", "99", "--phone", "+15550100001", "--business-name", "A"], "no account 99"),
        (["--account", "1", "--business-name", "  "], "must not be blank"),
        (["--account", "1", "--business-name", "A", "--provider-id", "vapi"], "SOURCE:ID"),
        (["--account", "1", "--business-name", "A", "--provider-id", "twilio:x"], "SOURCE:ID"),
        (["--account", "1", "--phone", "+15550100001"], "--business-name"),
    ],
)
async def test_create_rejects_bad_arguments(
    ringready: Run, pg: asyncpg.Pool, account: None, argv: list[str], needle: str
) -> None:
    assert needle in one_error_line(await ringready("agents", "create", *argv))
    assert await _agent_counts(pg) == (0, 0)


async def test_taken_phone_or_route_writes_nothing(ringready: Run, pg: asyncpg.Pool, account: None) -> None:
    ok = await ringready("agents", "create", "--account", "1", "--phone", "+15550100001", "--business-name",
                         "A", "--provider-id", "vapi:asst_1")  # fmt: skip
    assert ok.code == 0
    taken_phone = await ringready("agents", "create", "--account", "1", "--phone", "+15550100001",
                                  "--business-name", "B")  # fmt: skip
    assert "already belongs to an agent" in one_error_line(taken_phone)
    # The second agent is inserted before its route clashes: the transaction must undo it.
    taken_route = await ringready("agents", "create", "--account", "1", "--phone", "+15550100002",
                                  "--business-name", "C", "--provider-id", "vapi:asst_1")  # fmt: skip
    assert "already routed" in one_error_line(taken_route)
    assert await _agent_counts(pg) == (1, 1)


async def test_suspend_and_unsuspend(ringready: Run, pg: asyncpg.Pool, account: None) -> None:
    created = await ringready("agents", "create", "--account", "1", "--business-name", "A", "--suspended")
    assert created.out.endswith("(suspended)\n")
    assert await pg.fetchval("SELECT is_suspended FROM agents WHERE id = 1") is True
    unsuspended = await ringready("agents", "unsuspend", "1")
    assert unsuspended.out == "Agent 1 (A) is now active\n"
    assert await pg.fetchval("SELECT is_suspended FROM agents WHERE id = 1") is False
    assert (await ringready("agents", "suspend", "1")).out == "Agent 1 (A) is now suspended\n"
    assert await pg.fetchval("SELECT is_suspended FROM agents WHERE id = 1") is True


async def test_suspend_unknown_or_malformed_agent_exits_2(ringready: Run) -> None:
    assert "no agent with id 42" in one_error_line(await ringready("agents", "suspend", "42"))
    assert "not an id" in one_error_line(await ringready("agents", "unsuspend", "abc"))
