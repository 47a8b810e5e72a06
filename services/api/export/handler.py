"""GET /api/v1/conversations/export: streamed a keyset batch at a time, so memory stays flat
whatever the size and no database connection is held while the client reads.

A failure after the first byte can't become an error status any more: the connection is closed
before the chunked body's end, which every HTTP client reports as an incomplete response (a
truncated export is never mistaken for a whole one).
"""

from __future__ import annotations

import functools

import asyncpg
import structlog
from aiohttp import web

from services.api.export.budget import ExportBudget
from services.api.export.query import ExportQuery, parse_export_query
from services.api.reads import read
from services.api.typedefs import api_key_info, export_budget_key
from shared.db.conversation_export import START, Cursor, ExportFilters, export_batch
from shared.db.statement_pool import StatementPool
from shared.errors import RateLimited
from shared.export import encode_rows, header
from shared.middleware import add_request_headers

log = structlog.get_logger(__name__)

BATCH_ROWS = 1000
CONTENT_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


async def export_handler(request: web.Request) -> web.StreamResponse:
    """The account's conversations in [since, until), oldest first, as NDJSON (one detail per line)
    or CSV (a header line, then one flat row per conversation)."""
    query = parse_export_query(request.query)
    account_id = request[api_key_info].account_id
    budget = request.app[export_budget_key]
    wait_s = await budget.open(account_id)
    if wait_s:
        detail = f"export: this account's {budget.rows_per_min} rows per minute are used up"
        raise RateLimited(detail, retry_after_s=max(1, round(wait_s)))
    response = web.StreamResponse(headers={"Content-Type": CONTENT_TYPES[query.format]})
    response.headers["Content-Disposition"] = f'attachment; filename="conversations.{query.format}"'
    add_request_headers(request, response)
    await response.prepare(request)
    try:
        rows = await _stream(request, response, budget, account_id, query)
    except Exception:
        log.exception("export_failed", account_id=account_id)
        if request.transport is not None:
            request.transport.close()  # no terminating chunk: the client sees a cut-off body
        return response
    log.info("export_finished", account_id=account_id, rows=rows, format=query.format)
    await response.write_eof()
    return response


async def _stream(
    request: web.Request,
    response: web.StreamResponse,
    budget: ExportBudget,
    account_id: int,
    query: ExportQuery,
) -> int:
    """Write every batch; returns the number of rows sent."""
    csv_format, filters = query.format == "csv", query.filters()
    await response.write(header(csv_format))
    after, sent = START, 0
    while True:
        batch = functools.partial(
            _batch, csv_format=csv_format, account_id=account_id, after=after, filters=filters
        )
        rows = await read(request.app, batch)
        if not rows:
            return sent
        await budget.take(account_id, len(rows))
        await response.write(encode_rows(rows, csv_format))
        sent += len(rows)
        if len(rows) < BATCH_ROWS:
            return sent
        after = (rows[-1][0], rows[-1][1])


async def _batch(
    pool: StatementPool, *, csv_format: bool, account_id: int, after: Cursor, filters: ExportFilters
) -> list[asyncpg.Record]:
    return await export_batch(pool, csv_format, account_id, after, filters, limit=BATCH_ROWS)
