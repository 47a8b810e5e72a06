"""All SQL for `accounts`."""

from __future__ import annotations

import asyncpg

from shared.db.statement_pool import Queryable
from shared.errors import Conflict

INSERT_ACCOUNT_SQL = """
INSERT INTO accounts (email, plan) VALUES ($1, $2)
RETURNING id
"""
GET_ACCOUNT_SQL = "SELECT id, email, plan, created_at FROM accounts WHERE id = $1"
LIST_ACCOUNTS_SQL = "SELECT id, email, plan, created_at FROM accounts ORDER BY id"
FIND_ACCOUNT_BY_EMAIL_SQL = "SELECT id, email, plan, created_at FROM accounts WHERE lower(email) = lower($1)"


async def insert_account(conn: Queryable, email: str, plan: str) -> int:
    """Create an account; a second account with the same email (any case) is a Conflict."""
    try:
        account_id: int = await conn.fetchval(INSERT_ACCOUNT_SQL, email, plan)
    except asyncpg.UniqueViolationError:
        raise Conflict(f"an account with email {email} already exists") from None
    return account_id


async def get_account(conn: Queryable, account_id: int) -> asyncpg.Record | None:
    """One account row or None."""
    return await conn.fetchrow(GET_ACCOUNT_SQL, account_id)


async def find_account_by_email(conn: Queryable, email: str) -> asyncpg.Record | None:
    """The account with this email (case-insensitive) or None."""
    return await conn.fetchrow(FIND_ACCOUNT_BY_EMAIL_SQL, email)


async def list_accounts(conn: Queryable) -> list[asyncpg.Record]:
    """Every account, oldest first."""
    return await conn.fetch(LIST_ACCOUNTS_SQL)
