"""utc_iso8601 (migration 0002) renders timestamps exactly as msgspec encodes aware UTC datetimes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
import pytest

RENDER_SQL = "SELECT utc_iso8601(ts) FROM unnest($1::timestamptz[]) WITH ORDINALITY AS u (ts, n) ORDER BY n"
# asyncpg sends datetime's own min and max as -infinity and infinity: the first and last finite instants.
FIRST = datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
LAST = datetime(9999, 12, 31, 23, 59, 59, 999998, tzinfo=UTC)


async def test_every_instant_renders_as_msgspec_encodes_it(pg: asyncpg.Pool) -> None:
    rng = random.Random(2026)
    span_us = (LAST - FIRST) // timedelta(microseconds=1)
    instants = [FIRST, LAST] + [
        FIRST + timedelta(microseconds=rng.randrange(span_us)) for _ in range(100_000)
    ]
    instants += [moment.replace(microsecond=0) for moment in instants[2:1002]]  # whole seconds too
    rendered = [row[0] for row in await pg.fetch(RENDER_SQL, instants)]
    assert rendered == [msgspec.json.encode(moment).decode()[1:-1] for moment in instants]


@pytest.mark.parametrize(
    ("instant", "text"),
    [
        (datetime(2026, 6, 9, 14, 3, tzinfo=UTC), "2026-06-09T14:03:00Z"),
        (datetime(2026, 6, 9, 14, 3, 0, 1, tzinfo=UTC), "2026-06-09T14:03:00.000001Z"),
        (datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC), "2024-02-29T23:59:59.999999Z"),
        (datetime(99, 1, 1, tzinfo=UTC), "0099-01-01T00:00:00Z"),
    ],
)
async def test_edges(pg: asyncpg.Pool, instant: datetime, text: str) -> None:
    assert await pg.fetchval("SELECT utc_iso8601($1)", instant) == text


async def test_the_session_time_zone_changes_nothing(pg: asyncpg.Pool) -> None:
    async with pg.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL TimeZone = 'Asia/Kolkata'")
        assert (
            await conn.fetchval("SELECT utc_iso8601('2026-06-09 14:03:00.5+00')")
            == "2026-06-09T14:03:00.500000Z"
        )


NULLABLE_SQL = """
SELECT column_name, is_nullable FROM information_schema.columns
WHERE table_name = 'conversations' AND column_name LIKE '%_at_iso' ORDER BY column_name
"""


async def test_an_infinite_timestamp_is_refused_not_stored_as_text(pg: asyncpg.Pool) -> None:
    assert await pg.fetchval("SELECT utc_iso8601('infinity')") is None
    assert [tuple(row) for row in await pg.fetch(NULLABLE_SQL)] == [
        ("ended_at_iso", "NO"),
        ("started_at_iso", "NO"),
    ]
