"""`ringready deadletters list|replay`: see events the worker could not store, and re-drive them."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import asyncpg
import msgspec
from arq.connections import ArqRedis

from ops.cli.admin_run import print_rows, run_admin, usage
from shared.config import Settings
from shared.db.dead_letters import claim_for_replay, list_dead_letters, open_dead_letter_ids
from shared.errors import InvalidInput, NotFound
from shared.queue import create_arq_pool, enqueue_event, queued_event_decoder, replay_suffix

LIST_COLUMNS = ("id", "source", "provider_call_id", "reason", "detail", "created_at", "replayed_at")


async def replay_one(conn: asyncpg.Connection, arq: ArqRedis, dead_letter_id: int) -> str:
    """Re-enqueue one dead letter's payload under a fresh job id; returns that id."""
    async with conn.transaction():
        # The row stays locked until the job is queued, so a replay that fails at once
        # re-opens the dead letter only after it has been marked replayed.
        row = await claim_for_replay(conn, dead_letter_id)
        if row is None:
            raise NotFound(f"no dead letter {dead_letter_id}")
        try:
            event = queued_event_decoder.decode(row["payload"])
        except msgspec.DecodeError:
            raise InvalidInput(f"dead letter {dead_letter_id} has no replayable payload") from None
        return await enqueue_event(arq, event, suffix=replay_suffix(row["replay_count"]))


async def replay_dead_letters(
    conn: asyncpg.Connection, settings: Settings, ids: Sequence[int] | None
) -> list[tuple[int, str]]:
    """Replay the given dead letters, or every open one; (id, job id or error) each."""
    targets = list(ids) if ids is not None else await open_dead_letter_ids(conn)
    arq = await create_arq_pool(settings)
    results: list[tuple[int, str]] = []
    try:
        for dead_letter_id in targets:
            try:
                results.append((dead_letter_id, await replay_one(conn, arq, dead_letter_id)))
            except (NotFound, InvalidInput) as err:
                if ids is not None:
                    raise
                results.append((dead_letter_id, f"skipped: {err.detail}"))
    finally:
        await arq.aclose()
    return results


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    """Dead letters, open ones unless --all."""

    async def work(conn: asyncpg.Connection, _: Settings) -> int:
        rows = await list_dead_letters(conn, include_replayed=args.all, limit=args.limit)
        print_rows([{col: row[col] for col in LIST_COLUMNS} for row in rows], args.json)
        return 0

    return run_admin(settings, work)


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    """Re-drive one dead letter by id, or all open ones."""
    if (args.id is None) == (not args.all):
        raise usage("give a dead letter id or --all")

    async def work(conn: asyncpg.Connection, live: Settings) -> int:
        results = await replay_dead_letters(conn, live, None if args.all else [args.id])
        for dead_letter_id, outcome in results:
            print(f"dead letter {dead_letter_id}: {outcome}")
        if not results:
            print("no open dead letters")
        return 0

    return run_admin(settings, work)
