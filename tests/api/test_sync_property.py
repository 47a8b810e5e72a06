"""The sync's acceptance property: writers whose transactions commit out of order, a client syncing in
a loop between their steps, and in the end the client has every change exactly once and misses none.

Randomized with fixed seeds (reproducible) on the real Postgres, through the worker's upsert and the
API: three writers open transactions, write (insert or enrich) a few conversations, and commit or
roll back in a random order, so later transactions often commit before earlier ones.
"""

from __future__ import annotations

import random
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from asyncpg.pool import PoolConnectionProxy
from asyncpg.transaction import Transaction

from tests.api.conftest import World
from tests.api.contract import Api
from tests.api.worker_writes import phone_call, store

SEEDS = range(8)
STEPS = 160
CALLS = 10  # few conversations, so most writes enrich one already written


@dataclass
class Writer:
    """One connection; while `tx` is open, `pending` holds what it wrote: {call id: version}."""

    conn: PoolConnectionProxy
    tx: Transaction | None = None
    xid: int = 0
    pending: dict[str, int] = field(default_factory=dict)


@dataclass
class Run:
    """What the writers committed and what the client has seen."""

    committed: dict[str, int] = field(default_factory=dict)  # the latest committed version per call
    ever_committed: set[tuple[str, int]] = field(default_factory=set)
    seen: set[tuple[str, int]] = field(default_factory=set)
    latest_seen: dict[str, int] = field(default_factory=dict)
    cursor: str | None = None
    overtaken_commits: int = 0  # commits while an older transaction was still open
    syncs_behind_open: int = 0  # syncs while such an older transaction held changes back
    version: int = 0


async def _write(rng: random.Random, writer: Writer, writers: list[Writer], run: Run, world: World) -> None:
    locked = {call for other in writers if other is not writer for call in other.pending}
    calls = [f"p{n}" for n in range(CALLS) if f"p{n}" not in locked]
    if not calls:
        return
    if writer.tx is None:
        writer.tx = writer.conn.transaction()
        await writer.tx.start()
    writes = []
    for call in rng.sample(calls, k=min(len(calls), rng.randint(1, 3))):
        run.version += 1
        writer.pending[call] = run.version
        writes.append(phone_call(call, version=run.version, summary=f"{call} v{run.version}"))
    await store(writer.conn, world.a.account_id, world.a_agent, *writes)
    writer.xid = int(await writer.conn.fetchval("SELECT pg_current_xact_id()::text"))


async def _end(rng: random.Random, writer: Writer, writers: list[Writer], run: Run) -> None:
    if writer.tx is None:
        return
    if rng.random() < 0.15:
        await writer.tx.rollback()
    else:
        await writer.tx.commit()
        if any(other.tx is not None and other.xid < writer.xid for other in writers if other is not writer):
            run.overtaken_commits += 1
        run.committed.update(writer.pending)
        run.ever_committed.update(writer.pending.items())
    writer.tx, writer.pending = None, {}


async def _sync(api: Api, world: World, run: Run, limit: int) -> bool:
    """One page; checks each change is new, committed, and later than the last one seen of its call."""
    params = {"limit": str(limit), **({"cursor": run.cursor} if run.cursor else {})}
    page: dict[str, Any] = await api.call(
        "GET", "/api/v1/conversations/sync", key=world.a.key, status=200, params=params
    )
    for item in page["conversations"]:
        call, version_text = item["summary"].split(" v")
        change = (call, int(version_text))
        assert change in run.ever_committed, f"{change} was never committed"
        assert change not in run.seen, f"{change} returned twice"
        assert change[1] > run.latest_seen.get(call, 0), f"{change} after a later version"
        run.seen.add(change)
        run.latest_seen[call] = change[1]
    run.cursor = page["next_cursor"]
    return bool(page["end_of_stream"])


async def _catch_up(api: Api, world: World, run: Run) -> None:
    """With no transaction open, syncing to end_of_stream yields exactly the committed state."""
    for _ in range(200):  # bounded: at most STEPS * 3 changes, 5 per page
        if await _sync(api, world, run, 5):
            break
    assert run.latest_seen == run.committed


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_syncing_client_gets_every_change_once_whatever_the_commit_order(
    api: Api, pg: asyncpg.Pool, world: World, seed: int
) -> None:
    rng = random.Random(seed)
    run = Run()
    # Start past the world's own rows (two, written before the run): they aren't part of it.
    start = await api.call("GET", "/api/v1/conversations/sync", key=world.a.key, status=200)
    assert start["end_of_stream"]
    run.cursor = start["next_cursor"]
    async with AsyncExitStack() as stack:
        writers = [Writer(await stack.enter_async_context(pg.acquire())) for _ in range(3)]
        for _ in range(STEPS):
            writer = rng.choice(writers)
            action = rng.random()
            if action < 0.45:
                await _write(rng, writer, writers, run, world)
            elif action < 0.75:
                await _end(rng, writer, writers, run)
            else:
                open_xids = [w.xid for w in writers if w.tx is not None]
                if open_xids and any(v not in run.seen for v in run.ever_committed):
                    run.syncs_behind_open += 1
                await _sync(api, world, run, rng.randint(1, 4))
            if all(w.tx is None for w in writers):
                await _catch_up(api, world, run)
        for writer in writers:
            await _end(random.Random(0), writer, writers, run)  # seed 0's first draw commits
    await _catch_up(api, world, run)
    assert run.overtaken_commits > 0 and run.syncs_behind_open > 0  # the schedule did commit out of order
