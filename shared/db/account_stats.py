"""Read-only counts the operator tools need (the demo waits on them)."""

from __future__ import annotations

from shared.db.statement_pool import Queryable

COUNT_CONVERSATIONS_SQL = "SELECT count(*) FROM conversations WHERE account_id = $1"


async def count_conversations(conn: Queryable, account_id: int) -> int:
    """How many conversations an account has stored."""
    count: int = await conn.fetchval(COUNT_CONVERSATIONS_SQL, account_id)
    return count
