"""Nothing is dropped: unroutable, failing and exhausted events end in dead_letters, replayable."""

from __future__ import annotations

import asyncio

import asyncpg
import msgspec
from arq.connections import ArqRedis
from structlog.testing import capture_logs

from ops.cli.deadletters import replay_dead_letters
from shared.config import Settings
from shared.db.accounts import insert_account
from shared.db.agents import insert_agent
from shared.queue import enqueue_event, job_id_for
from tests.worker.conftest import AGENT_PHONE, Agent, drain, make_event


async def _dead_letters(pg: asyncpg.Pool) -> list[tuple[object, ...]]:
    rows = await pg.fetch(
        "SELECT source, provider_call_id, reason, replayed_at IS NOT NULL FROM dead_letters ORDER BY id"
    )
    return [tuple(r) for r in rows]


async def test_no_agent_dead_letters_then_replay_stores_once(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis
) -> None:
    event = make_event("call-orphan")
    for n in range(3):  # copies of one event keep one dead letter
        await enqueue_event(arq_pool, event, suffix=f":copy:{n}")
    await drain(settings)
    assert await _dead_letters(pg) == [("phone", "call-orphan", "no_agent", False)]
    row = await pg.fetchrow("SELECT job_id, payload, detail FROM dead_letters")
    assert row is not None
    assert row["job_id"] == job_id_for(event)
    assert AGENT_PHONE in row["detail"]
    assert await pg.fetchval("SELECT count(*) FROM conversations") == 0

    account_id = await insert_account(pg, "late@example.com", "free")
    await insert_agent(pg, account_id=account_id, phone_number=AGENT_PHONE, business_name="Late Co")
    async with pg.acquire() as conn:
        results = await replay_dead_letters(conn, settings, None)
    assert [r[1] for r in results] == [job_id_for(event, ":replay:1")]
    await drain(settings)
    assert await pg.fetchval("SELECT count(*) FROM conversations") == 1
    assert await _dead_letters(pg) == [("phone", "call-orphan", "no_agent", True)]
    assert await pg.fetchval("SELECT replay_count FROM dead_letters") == 1


async def test_failed_replay_reopens_the_same_dead_letter(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis
) -> None:
    await enqueue_event(arq_pool, make_event("call-still-orphan"))
    await drain(settings)
    dead_letter_id = await pg.fetchval("SELECT id FROM dead_letters")
    async with pg.acquire() as conn:
        await replay_dead_letters(conn, settings, [dead_letter_id])
    await drain(settings)
    assert await _dead_letters(pg) == [("phone", "call-still-orphan", "no_agent", False)]
    assert await pg.fetchval("SELECT replay_count FROM dead_letters") == 1


async def test_suspended_agent_dead_letters(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis, agent: Agent
) -> None:
    await pg.execute("UPDATE agents SET is_suspended = true WHERE id = $1", agent.id)
    await enqueue_event(arq_pool, make_event("call-suspended"))
    await drain(settings)
    assert await _dead_letters(pg) == [("phone", "call-suspended", "agent_suspended", False)]
    assert await pg.fetchval("SELECT count(*) FROM conversations") == 0


async def test_failing_event_dead_letters_alone_in_its_batch(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis, agent: Agent
) -> None:
    # Postgres text cannot hold NUL: a real non-transient error for this one event.
    await enqueue_event(arq_pool, make_event("call-bad", caller_name="Dana\x00"))
    for n in range(10):
        await enqueue_event(arq_pool, make_event(f"call-good-{n}"))
    with capture_logs() as logs:
        await drain(msgspec.structs.replace(settings, worker_batch_ms=200))
    splits = [e for e in logs if e["event"] == "batch_failed_writing_singly"]
    assert splits and splits[0]["size"] > 1  # the bad event shared a batch with good ones
    assert await pg.fetchval("SELECT count(*) FROM conversations") == 10
    assert await _dead_letters(pg) == [("phone", "call-bad", "failed", False)]
    detail = await pg.fetchval("SELECT detail FROM dead_letters")
    assert detail == 'CharacterNotInRepertoireError: invalid byte sequence for encoding "UTF8": 0x00'


async def test_undecodable_payload_dead_letters_as_invalid(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis
) -> None:
    await arq_pool.enqueue_job("store_conversation", b"\xc1not msgpack", _job_id="conv:vapi:call-x:1:abcd")
    await drain(settings)
    row = await pg.fetchrow("SELECT source, provider_call_id, reason, payload FROM dead_letters")
    assert tuple(row or ()) == ("vapi", "call-x", "invalid", b"\xc1not msgpack")


async def test_exhausted_tries_dead_letter(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis, redis_client: object, agent: Agent
) -> None:
    event = make_event("call-killed")
    job_id = await enqueue_event(arq_pool, event)
    # Redis as it is after job_max_tries pickups that never finished (SIGKILLed workers).
    await arq_pool.set(f"arq:retry:{job_id}", settings.job_max_tries)
    await drain(settings)
    assert await _dead_letters(pg) == [("phone", "call-killed", "max_tries", False)]
    assert await pg.fetchval("SELECT count(*) FROM conversations") == 0
    assert await arq_pool.zcard(settings.queue_name) == 0


async def test_transient_retries_do_not_use_up_tries(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis, agent: Agent
) -> None:
    job_id = await enqueue_event(arq_pool, make_event("call-patient"))
    await arq_pool.set(f"arq:retry:{job_id}", settings.job_max_tries + 3)
    await arq_pool.set(f"ringready:transient:{job_id}", 4)  # as after four Postgres outages
    await drain(settings)
    assert await pg.fetchval("SELECT count(*) FROM conversations") == 1
    assert await pg.fetchval("SELECT count(*) FROM dead_letters") == 0
    assert await arq_pool.exists(f"ringready:transient:{job_id}") == 0


async def test_event_with_nul_still_ends_as_a_dead_letter_not_retried_forever(
    settings: Settings, pg: asyncpg.Pool, arq_pool: ArqRedis, agent: Agent
) -> None:
    # What ingest queued before it replaced NUL (or any other producer): the store fails, and the
    # dead letter holding it must still be writable, or the job retries for ever.
    event = make_event("call-\x00-nul", summary="a\x00b")
    await enqueue_event(arq_pool, event)
    async with asyncio.timeout(30):
        await drain(settings)
    rows = await pg.fetch("SELECT job_id, provider_call_id, reason, detail FROM dead_letters")
    assert [(r["provider_call_id"], r["reason"]) for r in rows] == [("call-\ufffd-nul", "failed")]
    assert "\x00" not in rows[0]["job_id"] + rows[0]["detail"]
