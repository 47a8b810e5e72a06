"""`ringready deadletters list|replay` through argparse, against the real database and queue."""

from __future__ import annotations

import argparse
import asyncio
import json

import asyncpg
import pytest
import redis.asyncio as aioredis

from ops.cli.commands import register_deadletters as register
from shared.config import Settings
from shared.db.dead_letters import insert_dead_letter
from shared.db.pool import create_pool
from shared.queue import encode_event, job_id_for
from tests.worker.conftest import make_event


def _run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ringready")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(settings, args)
    return code


async def _seed(settings: Settings) -> None:
    pool = await create_pool(settings)
    try:
        for call_id, reason in (("call-a", "no_agent"), ("call-b", "agent_suspended")):
            event = make_event(call_id)
            await insert_dead_letter(
                pool, job_id=job_id_for(event), source="phone", provider_call_id=call_id,
                reason=reason, detail="to_number=+14155550100", payload=encode_event(event),
            )  # fmt: skip
    finally:
        await pool.close()


async def _queued(settings: Settings) -> list[bytes]:
    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        return list(await client.zrange(settings.queue_name, 0, -1))
    finally:
        await client.aclose()


async def _replayed(settings: Settings) -> list[tuple[object, ...]]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch(
            "SELECT id, replayed_at IS NOT NULL, replay_count FROM dead_letters ORDER BY id"
        )
        return [tuple(r) for r in rows]
    finally:
        await conn.close()


def test_list_and_replay(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_seed(settings))
    assert _run(settings, "deadletters", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(d["id"], d["provider_call_id"], d["reason"]) for d in listed] == [
        (1, "call-a", "no_agent"),
        (2, "call-b", "agent_suspended"),
    ]
    assert set(listed[0]) == {
        "id",
        "source",
        "provider_call_id",
        "reason",
        "detail",
        "created_at",
        "replayed_at",
    }

    assert _run(settings, "deadletters", "replay", "2") == 0
    expected = job_id_for(make_event("call-b"), ":replay:1")
    assert capsys.readouterr().out == f"dead letter 2: {expected}\n"
    assert asyncio.run(_queued(settings)) == [expected.encode()]
    assert asyncio.run(_replayed(settings)) == [(1, False, 0), (2, True, 1)]

    assert _run(settings, "deadletters", "replay", "--all") == 0
    assert capsys.readouterr().out == f"dead letter 1: {job_id_for(make_event('call-a'), ':replay:1')}\n"
    assert asyncio.run(_replayed(settings)) == [(1, True, 1), (2, True, 1)]
    assert _run(settings, "deadletters", "list") == 0
    assert capsys.readouterr().out == "(none)\n"


def test_replay_needs_an_id_or_all(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(settings, "deadletters", "replay") == 2
    assert capsys.readouterr().err == "error: give a dead letter id or --all\n"
    assert _run(settings, "deadletters", "replay", "99") == 2
    assert capsys.readouterr().err == "error: no dead letter 99\n"
