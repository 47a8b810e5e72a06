"""`ringready migrate`: apply pending migrations to the configured (or embedded) database."""

from __future__ import annotations

import argparse
import asyncio

import asyncpg

from ops.embedded.stack import resolved
from shared.config import Settings
from shared.db.migrate import migrate


async def migrate_database(settings: Settings) -> list[str]:
    """Apply migrations to settings.database_url."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    """Apply pending migrations."""
    with resolved(settings) as live:
        applied = asyncio.run(migrate_database(live))
    print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
    return 0
