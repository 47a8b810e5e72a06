"""Bulk data for benchmarks: 1,000,000 conversations, one account holding 500,000."""

from __future__ import annotations

import asyncpg

from shared.db.api_keys import insert_key
from shared.keys import display_prefix, generate_key, hash_key

UNLIMITED_PER_MIN = 1_000_000_000  # a bench key's own rate limit: never the bottleneck

BIG_ACCOUNT_ROWS = 500_000
SMALL_ACCOUNTS = 500
SMALL_ACCOUNT_ROWS = 1_000
BIG_ACCOUNT_AGENTS = 20

ACCOUNTS_SQL = """
INSERT INTO accounts (email, plan)
SELECT 'bench' || g || '@example.com', CASE WHEN g = 1 THEN 'agency' ELSE 'pro' END
FROM generate_series(1, $1) AS g
"""
AGENTS_SQL = """
INSERT INTO agents (account_id, phone_number, business_name, agent_goal, business_services)
SELECT a, '+1555' || lpad((a * 100 + n)::text, 7, '0'), 'Business ' || a || '-' || n,
       'Answer and book.', 'Plumbing.'
FROM generate_series(1, $1) AS a, generate_series(1, $2) AS n
WHERE n = 1 OR a = 1
"""
# Rows are interleaved across accounts in insertion order (as real traffic would be), with
# started_at spread over two years; ~15 % web chats. Agent ids: account 1 owns 1..20.
CONVERSATIONS_SQL = """
INSERT INTO conversations (
    account_id, agent_id, channel, source, provider_call_id, from_number, to_number,
    caller_name, label, summary, started_at, ended_at, duration_seconds, end_reason,
    device_type, origin_url, event_rank, event_at)
SELECT acct, agent, ch, CASE WHEN ch = 'phone' THEN 'phone' ELSE 'web_chat' END,
       'bench-' || g,
       CASE WHEN ch = 'phone' THEN '+1555' || lpad((g % 10000000)::text, 7, '0') END,
       CASE WHEN ch = 'phone' THEN '+15550000001' END,
       (ARRAY['Sam', 'Maria Lopez', NULL, 'Dan'])[1 + g % 4],
       (ARRAY['Appointment Booking', 'Pricing Question', 'Demo Request', 'Hang-up'])[1 + g % 4],
       'Caller asked about pricing for a water heater replacement and booked a visit.',
       ts, ts + make_interval(secs => 30 + g % 600), 30 + g % 600,
       CASE WHEN ch = 'phone' THEN 'caller_hung_up' ELSE 'visitor_ended' END,
       CASE WHEN ch = 'web_chat' THEN 'desktop' END,
       CASE WHEN ch = 'web_chat' THEN 'https://acme.example/pricing' END,
       1, ts
FROM (
    SELECT g,
           CASE WHEN g % 2 = 0 THEN 1 ELSE 2 + (g / 2) % $2 END AS acct,
           CASE WHEN g % 7 = 0 THEN 'web_chat' ELSE 'phone' END AS ch,
           timestamptz '2024-06-01' + make_interval(secs => g * 63.0) AS ts
    FROM generate_series(1, $1) AS g
) s,
LATERAL (
    SELECT CASE WHEN acct = 1 THEN 1 + (g / 2) % $3 ELSE $3 + acct - 1 END AS agent
) a
"""


async def load(conn: asyncpg.Connection) -> dict[str, int]:
    """Fill an empty, migrated database; returns row counts."""
    accounts = 1 + SMALL_ACCOUNTS
    total = BIG_ACCOUNT_ROWS * 2
    await conn.execute(ACCOUNTS_SQL, accounts)
    await conn.execute(AGENTS_SQL, accounts, BIG_ACCOUNT_AGENTS)
    await conn.execute(CONVERSATIONS_SQL, total, SMALL_ACCOUNTS, BIG_ACCOUNT_AGENTS)
    await conn.execute("VACUUM ANALYZE conversations")
    counts = await conn.fetchrow(
        "SELECT count(*) AS total, count(*) FILTER (WHERE account_id = 1) AS big FROM conversations"
    )
    assert counts is not None
    return {"total": counts["total"], "big_account": counts["big"]}


async def unlimited_read_key(conn: asyncpg.Connection, account_id: int, name: str) -> str:
    """A read key whose limit never denies (the limiter still does all its work); returns it."""
    key = generate_key()
    await insert_key(
        conn,
        account_id=account_id,
        prefix=display_prefix(key),
        key_hash=hash_key(key),
        name=name,
        scopes=["read"],
        rate_limit_per_min=UNLIMITED_PER_MIN,
    )
    return key
