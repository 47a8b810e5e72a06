"""Test data for the API (accounts, keys, agents and conversations, written with plain SQL) and
the limiter's Redis connection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.api.access.limiter import WINDOW_SCRIPT
from shared.db.accounts import insert_account
from shared.db.agents import insert_agent
from shared.db.api_keys import insert_key
from shared.keys import display_prefix, generate_key, hash_key
from shared.redis_pipe import RedisPipe

INSERT_CONVERSATION_SQL = """
INSERT INTO conversations (account_id, agent_id, channel, source, provider_call_id, from_number,
    to_number, caller_name, label, summary, started_at, ended_at, duration_seconds, end_reason,
    is_archived, is_viewed, device_type, origin_url, event_rank, event_at)
VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 1, $11)
RETURNING id
"""
INSERT_DETAILS_SQL = """
INSERT INTO conversation_details (conversation_id, transcript, recording_url, visitor_ip, raw_body)
VALUES ($1, $2, $3, $4, '\\x7b7d')
"""
# Bulk: n conversations of one account spread over agents and channels, started minutes apart
# from $5 backwards, with deliberate started_at ties (every 7th shares its neighbour's minute).
BULK_CONVERSATIONS_SQL = """
INSERT INTO conversations (account_id, agent_id, channel, source, provider_call_id, started_at,
    ended_at, duration_seconds, end_reason, event_rank, event_at, summary)
SELECT $1, ($2::bigint[])[1 + g % cardinality($2::bigint[])],
       ch, ch, $3 || '-' || g,
       $5::timestamptz - make_interval(mins => g - (g % 7 = 0)::int),
       $5::timestamptz - make_interval(mins => g - (g % 7 = 0)::int) + interval '1 minute',
       60, 'caller_ended', 1, $5::timestamptz, 'bulk ' || g
FROM generate_series(1, $4) AS g,
     LATERAL (SELECT CASE WHEN g % 3 = 0 THEN 'web_chat' ELSE 'phone' END AS ch) c
"""


@dataclass(frozen=True)
class Tenant:
    """One account with a read+write key, a read-only key and a write-only key."""

    account_id: int
    email: str
    key: str
    read_key: str
    write_only_key: str
    key_id: int


async def make_key(
    pg: asyncpg.Pool, account_id: int, scopes: Sequence[str], rate_limit_per_min: int | None = None
) -> tuple[str, int]:
    """A new key for the account: (secret, id)."""
    secret = generate_key()
    key_id = await insert_key(
        pg,
        account_id=account_id,
        prefix=display_prefix(secret),
        key_hash=hash_key(secret),
        name="test",
        scopes=scopes,
        rate_limit_per_min=rate_limit_per_min,
    )
    return secret, key_id


async def make_tenant(pg: asyncpg.Pool, email: str, plan: str = "growth") -> Tenant:
    """An account with its three keys."""
    account_id = await insert_account(pg, email, plan)
    key, key_id = await make_key(pg, account_id, ["read", "write"])
    read_key, _ = await make_key(pg, account_id, ["read"])
    write_only_key, _ = await make_key(pg, account_id, ["write"])
    return Tenant(account_id, email, key, read_key, write_only_key, key_id)


async def make_agent(pg: asyncpg.Pool, account_id: int, phone_number: str | None, **fields: str) -> int:
    """An agent with the defaults of shared.db.agents.insert_agent."""
    fields.setdefault("business_name", "Acme Plumbing")
    return await insert_agent(pg, account_id=account_id, phone_number=phone_number, **fields)  # type: ignore[arg-type]


async def make_conversation(
    pg: asyncpg.Pool,
    account_id: int,
    agent_id: int,
    *,
    channel: str = "phone",
    started_at: datetime,
    ended_at: datetime,
    call_id: str,
    transcript: list[dict[str, object]] | None = None,
    visitor_ip: str | None = None,
    recording_url: str | None = None,
    **columns: object,
) -> int:
    """One conversation with its details row, as the worker would store it."""
    row = {
        "from_number": None, "to_number": None, "caller_name": None, "label": None, "summary": None,
        "end_reason": "caller_ended", "is_archived": False, "is_viewed": False, "device_type": None,
        "origin_url": None,
    }  # fmt: skip
    row.update(columns)
    duration = int((ended_at - started_at).total_seconds())
    async with pg.acquire() as conn, conn.transaction():
        conversation_id: int = await conn.fetchval(
            INSERT_CONVERSATION_SQL, account_id, agent_id, channel, call_id, row["from_number"],
            row["to_number"], row["caller_name"], row["label"], row["summary"], started_at, ended_at,
            duration, row["end_reason"], row["is_archived"], row["is_viewed"], row["device_type"],
            row["origin_url"],
        )  # fmt: skip
        await conn.execute(INSERT_DETAILS_SQL, conversation_id, transcript or [], recording_url, visitor_ip)
    return conversation_id


async def bulk_conversations(
    pg: asyncpg.Pool, account_id: int, agent_ids: Sequence[int], n: int, newest: datetime, tag: str
) -> None:
    """n list-only conversations in one statement (no details rows: the list never reads them)."""
    await pg.execute(BULK_CONVERSATIONS_SQL, account_id, list(agent_ids), tag, n, newest)


INSERT_LIST_ROW_SQL = """
INSERT INTO conversations (account_id, agent_id, channel, source, provider_call_id, started_at,
    ended_at, duration_seconds, end_reason, event_rank, event_at)
VALUES ($1, $2, $3, $3, $4, $5::timestamptz, $5::timestamptz + interval '1 minute', 60, 'caller_ended', 1, $5)
RETURNING id
"""


async def insert_list_row(
    pg: asyncpg.Pool, account_id: int, agent_id: int, channel: str, started_at: datetime, call_id: str
) -> int:
    """One list-only conversation (for inserts racing a pagination walk)."""
    conversation_id: int = await pg.fetchval(
        INSERT_LIST_ROW_SQL, account_id, agent_id, channel, call_id, started_at
    )
    return conversation_id


def pipe_to(url: str, timeout_s: float = 0.5) -> RedisPipe:
    """The limiter's Redis connection, as redis_pipe_ctx makes it."""
    return RedisPipe(url, timeout_s=timeout_s, scripts=(WINDOW_SCRIPT,))
