"""After the drain: every accepted call stored exactly once, showing its richest accepted version.

Read from Postgres (the rows, their details and the dead letters) and from the API (a final
listing of everything since the first call): a call is `stored` when its row exists, `lost`
when a 2xx was given for it and no row exists, a `duplicate` for every row (or list entry) beyond
the first with its marker, `mismatched` when its row differs from every version it may show.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import asyncpg
import msgspec

from bench.soak_events import Call, Expected
from bench.soak_traffic import PAGE_LIMIT, _page_decoder, marker_of

ROWS_SQL = """
SELECT c.source, c.provider_call_id, c.channel, c.from_number, c.to_number, c.caller_name,
       c.summary, c.started_at, c.ended_at, c.duration_seconds, c.end_reason, c.origin_url,
       c.device_type, d.transcript
FROM conversations c
LEFT JOIN conversation_details d ON d.conversation_id = c.id
WHERE c.provider_call_id LIKE $1
"""
DEAD_LETTERS_SQL = "SELECT reason, count(*) AS n FROM dead_letters GROUP BY reason"
FULL_LIST_MAX_PAGES = 2000


@dataclass
class Accounting:
    """The verdict's numbers."""

    calls: int = 0  # calls with a storable version accepted: each must be stored once
    stored: int = 0  # of those, with a row
    lost: int = 0
    lost_examples: list[str] = field(default_factory=list)
    duplicates: int = 0  # extra rows or list entries for one call
    duplicate_examples: list[str] = field(default_factory=list)
    mismatched: int = 0
    mismatch_examples: list[str] = field(default_factory=list)
    unconfirmed_stored: int = 0  # stored though no 2xx was seen (an answer lost in a restart)
    visible_in_api: int = 0  # accepted calls listed by the final API listing
    dead_letters: dict[str, int] = field(default_factory=dict)


def _field_diffs(row: asyncpg.Record, expected: Expected) -> list[str]:
    """Which fields of the row differ from the expected version."""
    want: dict[str, Any] = {
        "channel": expected.channel,
        "from_number": expected.from_number,
        "to_number": expected.to_number,
        "started_at": expected.started_at,
        "ended_at": expected.ended_at,
        "duration_seconds": expected.duration_seconds,
        "end_reason": expected.end_reason,
        "origin_url": expected.origin_url,
        "device_type": expected.device_type,
    }
    if expected.caller_name is not None:
        want["caller_name"] = expected.caller_name
    if expected.summary is not None:
        want["summary"] = expected.summary
    diffs = [f"{name}={row[name]!r} want {value!r}" for name, value in want.items() if row[name] != value]
    if not expected.summary and not row["summary"]:
        diffs.append("summary empty")
    transcript = json.loads(row["transcript"]) if row["transcript"] else None
    got = tuple((turn["role"], turn["content"]) for turn in transcript or [])
    if got != expected.transcript:
        diffs.append(f"transcript {got!r} want {expected.transcript!r}")
    return diffs


async def reconcile_database(database_url: str, run: str, calls: dict[str, Call]) -> Accounting:
    """Rows against what was accepted."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(ROWS_SQL, f"soak-{run}-%")
        dead = {r["reason"]: r["n"] for r in await conn.fetch(DEAD_LETTERS_SQL)}
    finally:
        await conn.close()
    by_id: dict[str, list[asyncpg.Record]] = {}
    by_marker: Counter[str] = Counter()
    for row in rows:
        by_id.setdefault(f"{row['source']}:{row['provider_call_id']}", []).append(row)
        by_marker[row["origin_url"] if row["channel"] == "web_chat" else row["from_number"]] += 1
    result = Accounting(dead_letters=dead)
    canonical = {"web-chat": "web_chat"}
    for call in calls.values():
        found = by_id.get(f"{canonical.get(call.source, call.source)}:{call.call_id}", [])
        extra = max(0, len(found) - 1) + max(0, by_marker[call.marker] - max(1, len(found)))
        if extra:
            result.duplicates += extra
            _example(result.duplicate_examples, f"{call.call_id}: {len(found)} rows")
        if not call.storable:
            result.unconfirmed_stored += bool(found)
            continue
        result.calls += 1
        if not found:
            result.lost += 1
            _example(result.lost_examples, f"{call.source} {call.call_id} accepted {sorted(call.accepted)}")
            continue
        result.stored += 1
        allowed = call.allowed()
        diffs = [_field_diffs(found[0], expected) for expected in allowed]
        if all(diffs):
            result.mismatched += 1
            _example(result.mismatch_examples, f"{call.source} {call.call_id}: {'; '.join(diffs[0])}")
    return result


def _example(examples: list[str], text: str) -> None:
    if len(examples) < 5:
        examples.append(text)


async def reconcile_api(
    api_url: str, api_key: str, since: datetime, calls: dict[str, Call]
) -> tuple[int, int]:
    """A final listing of everything since the first call: (accepted calls listed, extra entries)."""
    listed: Counter[str] = Counter()
    params: dict[str, str | int] = {"limit": PAGE_LIMIT, "since": since.strftime("%Y-%m-%dT%H:%M:%SZ")}
    headers = {"Authorization": f"Bearer {api_key}"}
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=30)) as session:
        for _ in range(FULL_LIST_MAX_PAGES):
            async with session.get(f"{api_url}/api/v1/conversations", params=params) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"final listing: {response.status} {body[:200]!r}")
            page = _page_decoder.decode(body)
            listed.update(marker_of(item) or "" for item in page.conversations)
            if page.next_before_id is None:
                break
            params["before_id"] = page.next_before_id
    visible = sum(1 for call in calls.values() if call.storable and listed[call.marker])
    extra = sum(count - 1 for marker, count in listed.items() if marker in calls and count > 1)
    return visible, extra


def as_dict(accounting: Accounting) -> dict[str, Any]:
    """For the JSON report."""
    return msgspec.to_builtins(accounting.__dict__)  # type: ignore[no-any-return]
