from __future__ import annotations

import json

import asyncpg
import pytest

from tests.ops.cli.conftest import Run, one_error_line


async def count(pg: asyncpg.Pool, table: str) -> int:
    value: int = await pg.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
    return value


async def test_accounts_create_stores_email_and_plan(ringready: Run, pg: asyncpg.Pool) -> None:
    result = await ringready("accounts", "create", "--email", "owner@acme.test", "--plan", "pro")
    assert result.code == 0, result
    row = await pg.fetchrow("SELECT id, email, plan FROM accounts")
    assert (row["email"], row["plan"]) == ("owner@acme.test", "pro")
    assert result.out == f"Created account {row['id']} (owner@acme.test, plan pro)\n"


async def test_accounts_create_defaults_to_the_default_plan(ringready: Run, pg: asyncpg.Pool) -> None:
    assert (await ringready("accounts", "create", "--email", "a@b.test")).code == 0
    assert await pg.fetchval("SELECT plan FROM accounts") == "free"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--email", "not-an-email", "--plan", "pro"], "not an email address"),
        (["--email", "a@b", "--plan", "pro"], "not an email address"),
        (["--email", "a@b.test", "--plan", "platinum"], "plan must be one of free, growth, pro, agency"),
        (["--plan", "pro"], "--email"),
        (["--email", "a@b.test", "--bogus", "1"], "unrecognized arguments"),
    ],
)
async def test_accounts_create_rejects_bad_arguments(
    ringready: Run, pg: asyncpg.Pool, argv: list[str], needle: str
) -> None:
    line = one_error_line(await ringready("accounts", "create", *argv))
    assert needle in line
    assert await count(pg, "accounts") == 0


async def test_duplicate_email_is_one_line_and_exit_2(ringready: Run, pg: asyncpg.Pool) -> None:
    assert (await ringready("accounts", "create", "--email", "x@acme.test")).code == 0
    line = one_error_line(await ringready("accounts", "create", "--email", "X@ACME.test"))
    assert "already exists" in line
    assert await count(pg, "accounts") == 1


async def test_accounts_list_as_table_and_json(ringready: Run) -> None:
    await ringready("accounts", "create", "--email", "one@acme.test", "--plan", "growth")
    await ringready("accounts", "create", "--email", "two@acme.test")
    table = await ringready("accounts", "list")
    assert table.code == 0
    header, *lines = table.out.splitlines()
    assert header.split() == ["id", "email", "plan", "created_at"]
    assert [line.split()[:3] for line in lines] == [
        ["1", "one@acme.test", "growth"],
        ["2", "two@acme.test", "free"],
    ]
    listed = json.loads((await ringready("accounts", "list", "--json")).out)
    assert [(item["id"], item["email"], item["plan"]) for item in listed] == [
        (1, "one@acme.test", "growth"),
        (2, "two@acme.test", "free"),
    ]


async def test_missing_or_unknown_subcommand_exits_2(ringready: Run) -> None:
    assert "required" in one_error_line(await ringready("keys"))
    assert "invalid choice" in one_error_line(await ringready("accounts", "delete"))
