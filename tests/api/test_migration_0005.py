"""Migration 0005 backfills what search and sync read for the rows already stored."""

from __future__ import annotations

import asyncpg

from shared.db.migrate import CREATE_TABLE_SQL, RECORD_SQL, load_migrations, migrate
from tests.helpers import Servers, create_database

EXISTING_ROWS_SQL = """
WITH a AS (INSERT INTO accounts (email, plan) VALUES ('old@example.com', 'growth') RETURNING id),
g AS (INSERT INTO agents (account_id, agent_goal, business_name, business_services)
      SELECT id, 'goal', 'Old Co', 'services' FROM a RETURNING id, account_id),
c AS (INSERT INTO conversations (account_id, agent_id, channel, source, provider_call_id, caller_name,
          label, summary, started_at, ended_at, duration_seconds, end_reason, event_rank, event_at)
      SELECT account_id, id, 'phone', 'phone', 'old-' || n, 'Dana', 'Billing', 'Wants a refund',
             now(), now(), 0, 'caller_ended', 1, now()
      FROM g, generate_series(1, 2) AS n RETURNING id)
INSERT INTO conversation_details (conversation_id, transcript, raw_body)
SELECT id, '[{"role": "caller", "content": "Où est ma facture", "elapsed_s": 1, "raw_role": "user"}]', ''
FROM c
"""
SEARCH_SQL = """
SELECT count(*) FROM conversations c JOIN conversation_details d ON d.conversation_id = c.id
WHERE c.search_document @@ websearch_to_tsquery('simple', $1)
   OR d.transcript_document @@ websearch_to_tsquery('simple', $1)
"""


async def test_existing_rows_are_searchable_and_stamped_for_sync(servers: Servers) -> None:
    url = (await create_database(servers.database_url, "migrate0005"))[1]
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():  # the schema as it was before 0005, with rows in it
            await conn.execute(CREATE_TABLE_SQL)
            for migration in (m for m in load_migrations() if m.version < "0005"):
                await conn.execute(migration.sql)
                await conn.execute(RECORD_SQL, migration.version, migration.checksum)
            await conn.execute(EXISTING_ROWS_SQL)
        applied = await migrate(conn)
        assert applied[0] == "0005_search_and_sync"
        assert applied == [m.version for m in load_migrations() if m.version >= "0005"]
        for q in ("dana", "billing", "refund", "facture", '"où est"'):
            assert await conn.fetchval(SEARCH_SQL, q) == 2, q
        assert await conn.fetchval(SEARCH_SQL, "caller") == 0  # roles are not words of the transcript
        stamps = await conn.fetch("SELECT change_xid::text::bigint AS xid FROM conversations ORDER BY id")
        assert len({row["xid"] for row in stamps}) == 1  # the migration's own transaction
        below_xmin = (
            "SELECT count(*) FROM conversations WHERE change_xid < pg_snapshot_xmin(pg_current_snapshot())"
        )
        assert await conn.fetchval(below_xmin) == 2  # visible to the first sync at once
    finally:
        await conn.close()
