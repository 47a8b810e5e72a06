"""The demo key: one read+write key kept in the data dir and shown on every `up`; older ones revoked."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from ops.cli.admin_keys import create_key
from shared.db.api_keys import find_key_by_hash, list_keys, revoke_key
from shared.keys import hash_key, looks_like_key

DEMO_KEY_FILE = "demo_key"
DEMO_KEY_NAME = "demo"
DEMO_SCOPES = ("read", "write")


def stored_key(data_dir: Path) -> str | None:
    """The key a previous `up` kept, if the file holds one."""
    try:
        key = (data_dir / DEMO_KEY_FILE).read_text().strip()
    except OSError:
        return None
    return key if looks_like_key(key) else None


async def demo_key(conn: asyncpg.Connection, account_id: int, data_dir: Path) -> str:
    """The kept key while the database still honours it, else a new one (kept); other demo keys revoked.

    Runs inside the caller's transaction, so a crash leaves neither a kept key nor a revoked one half-done.
    """
    key = stored_key(data_dir)
    row = await find_key_by_hash(conn, hash_key(key)) if key else None
    if key and row and row["revoked_at"] is None and row["account_id"] == account_id:
        key_id = row["id"]
    else:
        key_id, key = await create_key(conn, account_id=account_id, name=DEMO_KEY_NAME, scopes=DEMO_SCOPES)
        path = data_dir / DEMO_KEY_FILE
        path.touch(mode=0o600)
        path.write_text(key + "\n")
    for other in await list_keys(conn, account_id):
        if other["name"] == DEMO_KEY_NAME and other["id"] != key_id and other["revoked_at"] is None:
            await revoke_key(conn, str(other["id"]))
    return key
