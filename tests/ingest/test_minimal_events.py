"""Calls that never connected arrive as bare events; they are stored, their times taken from the
best the event carries (docs/ingest.md, "Times when a start or end is missing")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from aiohttp.test_utils import TestClient

from shared.config import Settings
from tests.ingest.signing import signed
from tests.ingest.stored import agent_for_every_sample, assistant_ids, dead_letters, store_queued, stored_rows
from tests.ingest.webhooks import post

T_MS = 1_765_000_000_000  # 2025-12-06T05:46:40Z
T = datetime.fromtimestamp(T_MS / 1000, tz=UTC)


def _vapi(call_id: str, **message: Any) -> bytes:
    call = {
        "id": call_id,
        "status": "ended",
        "endedReason": "customer-did-not-answer",
        "assistantId": assistant_ids()["vapi"],
        **message.pop("call", {}),
    }
    return msgspec.json.encode({"message": {"type": "end-of-call-report", "call": call, **message}})


def _retell(call_id: str, **call: Any) -> bytes:
    body = {
        "call_id": call_id,
        "agent_id": assistant_ids()["retell"],
        "disconnection_reason": "dial_no_answer",
    }
    return msgspec.json.encode({"event": "call_ended", "call": {**body, **call}})


async def test_bare_reports_of_calls_that_never_connected_are_stored(
    client: TestClient, pg: asyncpg.Pool, settings: Settings
) -> None:
    await agent_for_every_sample(pg)
    later = (T + timedelta(seconds=30)).isoformat()
    before = datetime.now(UTC)
    bodies = [
        ("vapi", _vapi("v-bare")),  # the bare shape Vapi documents: no time at all
        ("vapi", _vapi("v-stamp", timestamp=T_MS)),
        ("vapi", _vapi("v-created", call={"createdAt": T.isoformat()}, timestamp=T_MS + 30_000)),
        ("vapi", _vapi("v-ended", call={"endedAt": later})),
        ("retell", _retell("r-bare")),
        ("retell", _retell("r-start", start_timestamp=T_MS)),
    ]
    for source, body in bodies:
        path = f"/webhooks/v1/{source}"
        await post(client, path, body, signed(path, body), 202)
    after = datetime.now(UTC)
    await store_queued(settings)
    assert await dead_letters(pg) == []
    rows = {row["provider_call_id"]: row for row in await stored_rows(pg)}
    assert set(rows) == {"v-bare", "v-stamp", "v-created", "v-ended", "r-bare", "r-start"}
    for bare in ("v-bare", "r-bare"):  # nothing to go by but the time of receipt
        assert before <= rows[bare]["started_at"] == rows[bare]["ended_at"] <= after
    assert (rows["v-stamp"]["started_at"], rows["v-stamp"]["ended_at"]) == (T, T)
    assert (rows["v-created"]["started_at"], rows["v-created"]["duration_seconds"]) == (T, 30)
    assert rows["v-ended"]["started_at_iso"] == rows["v-ended"]["ended_at_iso"] == "2025-12-06T05:47:10Z"
    assert (rows["r-start"]["started_at"], rows["r-start"]["ended_at"]) == (T, T)
    bare = rows["v-bare"]
    assert (bare["end_reason_raw"], bare["transcript"]) == ("customer-did-not-answer", [])
    assert bare["provider_metadata"] == {"call_status": "ended"}
