"""`ringready export`: an account's conversations as NDJSON or CSV, the API's export bytes for bytes,
straight from the database (no key, no rate limit: an operator's tool), with a progress bar.

Written to `--output` through a `.part` file renamed at the end, so a file that exists is whole.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import asyncpg

from ops.cli.admin_run import resolve_account, run_admin
from ops.cli.progress import Progress
from shared.config import Settings
from shared.db.conversation_export import START, ExportFilters, count_export, export_batch
from shared.export import encode_rows, header

BATCH_ROWS = 1000


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """Export one account's conversations; progress on stderr, data to --output (or stdout)."""

    async def work(conn: asyncpg.Connection, _: Settings) -> int:
        account = await resolve_account(conn, args.account)
        filters = ExportFilters(args.channel, args.agent, args.since, args.until)
        progress = Progress(
            f"account {account['id']}", await count_export(conn, account["id"], filters), sys.stderr
        )
        csv_format = args.format == "csv"
        with _output(args.output) as out:
            out.write(header(csv_format))
            after, sent = START, 0
            while rows := await export_batch(
                conn, csv_format, account["id"], after, filters, limit=BATCH_ROWS
            ):
                out.write(encode_rows(rows, csv_format))
                sent += len(rows)
                progress.update(sent, "conversations")
                after = (rows[-1][0], rows[-1][1])
        progress.finish(sent, "conversations")
        return 0

    return run_admin(settings, work)


@contextlib.contextmanager
def _output(path: str) -> Iterator[BinaryIO]:
    """stdout for "-", else PATH.part, renamed to PATH only once everything is written."""
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    part = Path(f"{path}.part")
    try:
        with part.open("wb") as out:
            yield out
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
