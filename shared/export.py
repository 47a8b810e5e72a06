"""The export's bytes, for the API's endpoint and `ringready export` alike: NDJSON lines as Postgres
built them, or CSV rows (RFC 4180, CRLF) with JSON's true/false and formula cells defused."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import asyncpg

from shared.db.conversation_export import CSV_HEADER

FORMATS = ("ndjson", "csv")
# A cell a spreadsheet would run as a formula (OWASP's CSV injection list) gets a leading quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def header(csv_format: bool) -> bytes:
    """What comes before the first row: CSV's header line, nothing for NDJSON."""
    return _csv_lines([CSV_HEADER]) if csv_format else b""


def encode_rows(rows: Sequence[asyncpg.Record], csv_format: bool) -> bytes:
    """A batch of export rows (started_at, id, then the formatted columns) as bytes."""
    if csv_format:
        return _csv_lines([[_cell(value) for value in row[2:]] for row in rows])
    return "".join([row[2] + "\n" for row in rows]).encode()


def _csv_lines(rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()


def _cell(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
