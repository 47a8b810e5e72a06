"""Property: walking every page with random filters and sizes, while rows arrive, yields the snapshot
exactly, in order, without duplicates (new rows may show up, but never twice and never out of order)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.api.conftest import World
from tests.api.contract import Api
from tests.api.factories import bulk_conversations, insert_list_row

NEWEST = datetime(2026, 6, 1, tzinfo=UTC)
ROWS = 3000
WALKS = 10
UNMETERED_SQL = "UPDATE api_keys SET rate_limit_per_min = 1000000 WHERE account_id = $1"
SNAPSHOT_SQL = "SELECT id, agent_id, channel, started_at FROM conversations WHERE account_id = $1"


@dataclass(frozen=True)
class Filters:
    channel: str | None
    agent_id: int | None
    since: datetime | None
    limit: int

    def params(self) -> dict[str, str]:
        params = {"limit": str(self.limit)}
        if self.channel:
            params["channel"] = self.channel
        if self.agent_id:
            params["agent_id"] = str(self.agent_id)
        if self.since:
            params["since"] = self.since.isoformat().replace("+00:00", "Z")
        return params

    def matches(self, row: asyncpg.Record) -> bool:
        return (
            (self.channel is None or row["channel"] == self.channel)
            and (self.agent_id is None or row["agent_id"] == self.agent_id)
            and (self.since is None or row["started_at"] >= self.since)
        )


def random_filters(rng: random.Random, agents: list[int]) -> Filters:
    since = NEWEST - timedelta(minutes=rng.randint(100, ROWS + 100)) if rng.random() < 0.4 else None
    return Filters(
        channel=rng.choice([None, None, "phone", "web_chat"]),
        agent_id=rng.choice([None, None, *agents]),
        since=since,
        limit=rng.randint(15, 200),
    )


def started(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["started_at"])


async def walk(
    api: Api, pg: asyncpg.Pool, world: World, rng: random.Random, f: Filters, agents: list[int]
) -> tuple[list[dict[str, Any]], set[int]]:
    """Every page of one walk; a few rows (newest, middle, oldest) are inserted between pages."""
    items: list[dict[str, Any]] = []
    inserted: set[int] = set()
    params = f.params()
    while True:
        page = await api.call("GET", "/api/v1/conversations", key=world.a.key, status=200, params=params)
        assert page["limit"] == f.limit and len(page["conversations"]) <= f.limit
        items.extend(page["conversations"])
        if page["next_before_id"] is None:
            return items, inserted
        assert page["next_before_id"] == page["conversations"][-1]["id"]
        params = {**f.params(), "before_id": str(page["next_before_id"])}
        for _ in range(rng.randint(0, 3)):
            at = NEWEST + timedelta(minutes=rng.uniform(-ROWS - 10, 10), microseconds=rng.randint(0, 999_999))
            new_id = await insert_list_row(
                pg, world.a.account_id, rng.choice(agents), rng.choice(["phone", "web_chat"]), at,
                f"race-{time.monotonic_ns()}-{rng.random()}",
            )  # fmt: skip
            inserted.add(new_id)


async def test_pages_cover_the_snapshot_in_order_without_duplicates(
    api: Api, pg: asyncpg.Pool, world: World
) -> None:
    rng = random.Random(20260609)
    # Thousands of page requests: lift the key's per-minute budget so the limiter stays out of it.
    await pg.execute(UNMETERED_SQL, world.a.account_id)
    agents = [world.a_agent, world.a_agent2]
    await bulk_conversations(pg, world.a.account_id, agents, ROWS, NEWEST, "a")
    await bulk_conversations(pg, world.b.account_id, [world.b_agent], 500, NEWEST, "b")
    foreign = {
        r["id"]
        for r in await pg.fetch("SELECT id FROM conversations WHERE account_id = $1", world.b.account_id)
    }
    for _ in range(WALKS):
        f = random_filters(rng, agents)
        snapshot = [r for r in await pg.fetch(SNAPSHOT_SQL, world.a.account_id) if f.matches(r)]
        expected = [r["id"] for r in sorted(snapshot, key=lambda r: (r["started_at"], r["id"]), reverse=True)]
        items, inserted = await walk(api, pg, world, rng, f, agents)
        ids = [item["id"] for item in items]
        assert len(ids) == len(set(ids)), f"duplicates with {f}"
        keys = [(started(item), item["id"]) for item in items]
        assert keys == sorted(keys, reverse=True), f"out of order with {f}"
        assert [i for i in ids if i not in inserted] == expected, f"snapshot not covered exactly with {f}"
        assert not set(ids) & foreign
        assert all(
            f.matches({"channel": i["channel"], "agent_id": i["agent_id"], "started_at": started(i)})
            for i in items
        )  # type: ignore[arg-type]
