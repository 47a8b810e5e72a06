"""store_conversation end to end: real arq worker, real Redis, real Postgres."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
from arq.connections import ArqRedis

from shared.config import Settings
from shared.models import Turn
from shared.queue import enqueue_event
from tests.worker.conftest import AGENT_PHONE, CALLER_PHONE, T0, Agent, drain, make_event


async def test_stores_every_field(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis, agent: Agent
) -> None:
    event = make_event("call-fields", recording_url="https://rec.example/1.mp3", provider_metadata={"k": "v"})
    await enqueue_event(arq_pool, event)
    await drain(settings)
    row = await pg.fetchrow("SELECT * FROM conversations")
    assert row is not None
    assert (row["account_id"], row["agent_id"]) == (agent.account_id, agent.id)
    assert (row["source"], row["provider_call_id"], row["channel"]) == ("phone", "call-fields", "phone")
    assert (row["from_number"], row["to_number"]) == (CALLER_PHONE, AGENT_PHONE)
    assert row["caller_name"] == "Dana Lee"
    assert row["label"] == "Appointment Booking"
    assert row["summary"] == "Caller asked to book an appointment. The appointment was booked."
    assert row["duration_seconds"] == 155
    assert (row["end_reason"], row["end_reason_raw"]) == ("caller_hung_up", "customer-ended-call")
    assert (row["started_at"], row["ended_at"]) == (T0, T0 + timedelta(seconds=154.6))
    assert (row["event_rank"], row["is_archived"], row["is_viewed"]) == (1, False, False)
    detail = await pg.fetchrow("SELECT * FROM conversation_details WHERE conversation_id = $1", row["id"])
    assert detail is not None
    assert detail["transcript"][1] == {
        "role": "caller",
        "content": "Hi, my name is Dana Lee.",
        "elapsed_s": 3.0,
        "raw_role": "user",
    }
    assert len(detail["transcript"]) == 4
    assert detail["raw_body"] == event.raw_body
    assert (detail["recording_url"], detail["provider_metadata"]) == ("https://rec.example/1.mp3", {"k": "v"})


async def test_provider_values_win_over_local_enrichment(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis, agent: Agent
) -> None:
    event = make_event("call-given", summary="Provider summary.", label="Custom", caller_name="Sam")
    await enqueue_event(arq_pool, event)
    await drain(settings)
    row = await pg.fetchrow("SELECT summary, label, caller_name FROM conversations")
    assert tuple(row or ()) == ("Provider summary.", "Custom", "Sam")


async def test_web_chat_routes_by_agent_id(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis, agent: Agent
) -> None:
    turns = [
        Turn(role="visitor", content="Can I get a demo and your pricing?", elapsed_s=1.0, raw_role="user")
    ]
    event = make_event(
        "chat-1", source="web_chat", channel="web_chat", to_number=None, from_number=None,
        agent_id=agent.id, transcript=turns, end_reason_raw=None, visitor_ip="203.0.113.9",
        device_type="mobile", origin_url="https://brightsmiles.example/",
    )  # fmt: skip
    await enqueue_event(arq_pool, event)
    await drain(settings)
    row = await pg.fetchrow("SELECT * FROM conversations")
    assert row is not None
    assert (row["agent_id"], row["channel"], row["end_reason"]) == (agent.id, "web_chat", "visitor_ended")
    assert (row["device_type"], row["origin_url"]) == ("mobile", "https://brightsmiles.example/")
    assert row["summary"] == "Visitor asked for a demo and pricing."
    assert row["label"] == "Demo Request"
    assert await pg.fetchval("SELECT visitor_ip FROM conversation_details") == "203.0.113.9"


async def test_provider_call_routes_by_assistant_id(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis, agent: Agent
) -> None:
    event = make_event(
        "retell-1", source="retell", to_number="+19990000000", provider_assistant_id="agent_retell_1"
    )
    await enqueue_event(arq_pool, event)
    await drain(settings)
    assert await pg.fetchval("SELECT agent_id FROM conversations") == agent.id


async def test_list_table_holds_no_transcript(pg: asyncpg.Pool) -> None:
    columns = {r["column_name"] for r in await pg.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'conversations'"
    )}  # fmt: skip
    assert "transcript" in {
        r["column_name"]
        for r in await pg.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'conversation_details'"
        )
    }
    assert not columns & {"transcript", "raw_body", "visitor_ip", "provider_metadata"}


async def test_duplicate_storm_and_replays_give_one_row(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis, agent: Agent
) -> None:
    event = make_event("call-storm")
    await asyncio.gather(*(enqueue_event(arq_pool, event, suffix=f":copy:{n}") for n in range(20)))
    await drain(settings)
    for n in range(5):
        await enqueue_event(arq_pool, event, suffix=f":replay:{n}")
    worker = await drain(settings)
    assert worker.jobs_complete == 5
    assert await pg.fetchval("SELECT count(*) FROM conversations") == 1
    assert await pg.fetchval("SELECT count(*) FROM conversation_details") == 1
    assert await pg.fetchval("SELECT count(*) FROM dead_letters") == 0


async def _retell(call_id: str, rank: int) -> dict[str, object]:
    names = {1: "call_ended", 2: "call_analyzed"}
    summary = "Caller booked a cleaning for Tuesday." if rank == 2 else None
    return {"source": "retell", "event_type": names[rank], "event_rank": rank, "summary": summary,
            "raw_body": f"{call_id}:{rank}".encode(), "to_number": AGENT_PHONE}  # fmt: skip


async def test_retell_ended_then_analyzed_and_reverse(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis, agent: Agent
) -> None:
    for call_id, order in (("rt-forward", (1, 2)), ("rt-reverse", (2, 1))):
        for rank in order:
            await enqueue_event(arq_pool, make_event(call_id, **await _retell(call_id, rank)))
            await drain(settings)
    rows = await pg.fetch("SELECT provider_call_id, event_rank, summary FROM conversations ORDER BY 1")
    expected = [(cid, 2, "Caller booked a cleaning for Tuesday.") for cid in ("rt-forward", "rt-reverse")]
    assert [tuple(r) for r in rows] == expected
    raw = await pg.fetch("SELECT raw_body FROM conversation_details ORDER BY conversation_id")
    assert sorted(r["raw_body"] for r in raw) == [b"rt-forward:2", b"rt-reverse:2"]


async def test_both_retell_events_in_one_batch(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis, agent: Agent
) -> None:
    for rank in (2, 1):
        await enqueue_event(arq_pool, make_event("rt-same-batch", **await _retell("rt-same-batch", rank)))
    await drain(settings)
    assert await pg.fetchval("SELECT event_rank FROM conversations") == 2


async def test_older_event_never_overwrites_newer(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis, agent: Agent
) -> None:
    newer = make_event("call-v", event_at=T0 + timedelta(minutes=10), summary="Newer.", raw_body=b"v2")
    older = make_event("call-v", event_at=T0 + timedelta(minutes=5), summary="Older.", raw_body=b"v1")
    await enqueue_event(arq_pool, newer)
    await drain(settings)
    await pg.execute("UPDATE conversations SET is_viewed = true")
    await enqueue_event(arq_pool, older)
    await drain(settings)
    row = await pg.fetchrow("SELECT summary, is_viewed FROM conversations")
    assert tuple(row or ()) == ("Newer.", True)
    assert await pg.fetchval("SELECT raw_body FROM conversation_details") == b"v2"
    latest = make_event("call-v", event_at=T0 + timedelta(minutes=20), summary="Latest.", raw_body=b"v3")
    await enqueue_event(arq_pool, latest)
    await drain(settings)
    row = await pg.fetchrow("SELECT summary, is_viewed FROM conversations")
    assert tuple(row or ()) == ("Latest.", True)
    assert await pg.fetchval("SELECT raw_body FROM conversation_details") == b"v3"
