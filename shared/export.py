"""The export's bytes, for the API's endpoint and `ringready export` alike: the lines Postgres built
(shared/db/conversation_export.py: NDJSON, or CSV per RFC 4180 with CRLF), and CSV's header."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from shared.db.conversation_export import CSV_HEADER

FORMATS = ("ndjson", "csv")


def header(csv_format: bool) -> bytes:
    """What comes before the first row: CSV's header line (its names need no quoting), else nothing."""
    return (",".join(CSV_HEADER) + "\r\n").encode() if csv_format else b""


def encode_rows(rows: Sequence[asyncpg.Record], csv_format: bool) -> bytes:
    """A batch of export rows (started_at, id, the line Postgres built) as bytes."""
    end = "\r\n" if csv_format else "\n"
    return "".join([row[2] + end for row in rows]).encode()
