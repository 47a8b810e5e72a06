"""How every admin command runs: one connection, domain errors as one line and exit code 2."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import msgspec

from ops.embedded.stack import resolved
from shared.config import Settings
from shared.db.accounts import find_account_by_email, get_account
from shared.errors import InvalidInput, NotFound

Work = Callable[[asyncpg.Connection, Settings], Awaitable[int]]
Command = Callable[[Settings, argparse.Namespace], int]


def run_admin(settings: Settings, work: Work) -> int:
    """Run `work` on one connection to the resolved database."""
    with resolved(settings) as live:
        return asyncio.run(_on_connection(live, work))


async def _on_connection(settings: Settings, work: Work) -> int:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await work(conn, settings)
    finally:
        await conn.close()


def usage(message: str) -> InvalidInput:
    """A rule argparse cannot check by itself (it needs settings or the database)."""
    return InvalidInput(message)


async def resolve_account(conn: asyncpg.Connection, ref: str) -> asyncpg.Record:
    """An account by id or email; NotFound names what was asked for."""
    row = await (get_account(conn, int(ref)) if ref.isdigit() else find_account_by_email(conn, ref))
    if row is None:
        raise NotFound(f"no account {ref}")
    return row


def print_rows(rows: Sequence[dict[str, Any]], as_json: bool) -> None:
    """A list command's output: aligned columns for people, or JSON for scripts."""
    if as_json:
        print(msgspec.json.encode(list(rows), enc_hook=_json_value).decode())
        return
    if not rows:
        print("(none)")
        return
    columns = list(rows[0])
    cells = [[_cell(row[col]) for col in columns] for row in rows]
    widths = [max(len(col), *(len(line[i]) for line in cells)) for i, col in enumerate(columns)]
    print("  ".join(col.ljust(width) for col, width in zip(columns, widths, strict=True)).rstrip())
    for line in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def _json_value(value: Any) -> Any:
    return str(value)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value)) or "-"
    isoformat = getattr(value, "isoformat", None)
    if isoformat is not None:
        return str(isoformat(timespec="seconds"))
    return str(value)
