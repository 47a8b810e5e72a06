"""Forward-only migrations: plain SQL files applied in order, once, under an advisory lock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# Any constant shared by every migrating process; serialises concurrent `ringready migrate`.
MIGRATION_LOCK_KEY = 0x52524D47  # "RRMG"

CREATE_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     text PRIMARY KEY,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""
LOCK_SQL = "SELECT pg_advisory_xact_lock($1)"
APPLIED_SQL = "SELECT version, checksum FROM schema_migrations"
RECORD_SQL = "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)"


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file."""

    version: str
    sql: str

    @property
    def checksum(self) -> str:
        """Detects an applied migration whose file was edited afterwards."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(Exception):
    """The database's history disagrees with the files."""


def load_migrations() -> list[Migration]:
    """Every migrations/NNNN_*.sql file, in version order."""
    folder = resources.files("shared.db") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [Migration(f.name.removesuffix(".sql"), f.read_text()) for f in files]


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply pending migrations in one transaction; returns the versions applied."""
    migrations = load_migrations()
    async with conn.transaction():
        await conn.execute(LOCK_SQL, MIGRATION_LOCK_KEY)
        await conn.execute(CREATE_TABLE_SQL)
        applied = {row["version"]: row["checksum"] for row in await conn.fetch(APPLIED_SQL)}
        done: list[str] = []
        for migration in migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(f"migration {migration.version} changed after it ran")
                continue
            await conn.execute(migration.sql)
            await conn.execute(RECORD_SQL, migration.version, migration.checksum)
            done.append(migration.version)
    log.info("migrations_applied", applied=done, total=len(migrations))
    return done
