"""Migration 0006 on a database with agents in it: their FAQs survive the jsonb -> json change,
every agent starts at version 1, and a later write is kept in the order it was written."""

from __future__ import annotations

import asyncpg

from shared.db.migrate import load_migrations
from tests.helpers import Servers, create_database

BEFORE_0006 = """
INSERT INTO accounts (email, plan) VALUES ('owner@example.com', 'growth');
INSERT INTO agents (account_id, business_name, agent_goal, business_services, faq)
VALUES (1, 'Dental', 'Book visits.', 'Cleaning.', '{"Longer question?": "A.", "Short?": "B."}');
"""


async def test_0006_converts_existing_agents(servers: Servers) -> None:
    url = (await create_database(servers.database_url, "migrate0006"))[1]
    conn = await asyncpg.connect(url)
    try:
        migrations = load_migrations()
        for migration in migrations:
            if migration.version.startswith("0006"):
                await conn.execute(BEFORE_0006)  # the agent as an older schema stored it
            await conn.execute(migration.sql)
        row = await conn.fetchrow("SELECT faq::text, version, pg_typeof(faq)::text AS type FROM agents")
        assert row is not None and row["type"] == "json" and row["version"] == 1
        # jsonb had sorted the keys shortest first; that order is what the row keeps.
        assert row["faq"] == '{"Short?": "B.", "Longer question?": "A."}'
        await conn.execute("""UPDATE agents SET faq = '{"Zebra?": "Z.", "Ant?": "A."}'""")
        row = await conn.fetchrow("SELECT faq::text, version FROM agents")
        assert row is not None and (row["faq"], row["version"]) == ('{"Zebra?": "Z.", "Ant?": "A."}', 2)
    finally:
        await conn.close()
