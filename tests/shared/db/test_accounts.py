"""shared/db/accounts.py against the test Postgres: ids, the case-blind unique email, lookups."""

from __future__ import annotations

import asyncpg
import pytest

from shared.db.accounts import find_account_by_email, get_account, insert_account, list_accounts
from shared.errors import Conflict


async def test_an_inserted_account_reads_back(pg: asyncpg.Pool) -> None:
    account_id = await insert_account(pg, "owner@example.com", "growth")
    row = await get_account(pg, account_id)
    assert row is not None
    assert (row["id"], row["email"], row["plan"]) == (account_id, "owner@example.com", "growth")
    assert row["created_at"] is not None


async def test_a_missing_account_is_none(pg: asyncpg.Pool) -> None:
    await insert_account(pg, "owner@example.com", "growth")
    assert await get_account(pg, 999_999) is None
    assert await find_account_by_email(pg, "nobody@example.com") is None


async def test_the_same_email_in_another_case_is_a_conflict(pg: asyncpg.Pool) -> None:
    await insert_account(pg, "Owner@Example.com", "growth")
    with pytest.raises(Conflict, match="owner@EXAMPLE.com already exists"):
        await insert_account(pg, "owner@EXAMPLE.com", "scale")
    assert [row["email"] for row in await list_accounts(pg)] == ["Owner@Example.com"]


async def test_find_by_email_ignores_case(pg: asyncpg.Pool) -> None:
    account_id = await insert_account(pg, "Owner@Example.com", "growth")
    await insert_account(pg, "other@example.com", "growth")
    row = await find_account_by_email(pg, "OWNER@example.COM")
    assert row is not None and row["id"] == account_id


async def test_list_is_every_account_oldest_first(pg: asyncpg.Pool) -> None:
    assert await list_accounts(pg) == []
    ids = [await insert_account(pg, f"user{n}@example.com", "growth") for n in range(3)]
    rows = await list_accounts(pg)
    assert [row["id"] for row in rows] == sorted(ids) == ids
    assert [row["email"] for row in rows] == ["user0@example.com", "user1@example.com", "user2@example.com"]
