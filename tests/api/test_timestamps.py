"""One timestamp format in every answer (docs/api.md, "Timestamps"): RFC 3339 in UTC with a trailing
Z, whole seconds always, then `.ffffff` (six digits) only when the stored instant has a fraction;
never rounded. `since` compares at that same precision, so a shown time includes its row."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pytest

from tests.api.conftest import World
from tests.api.contract import Api
from tests.api.factories import make_conversation

ONE_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z")
# .999999 must not round into the next second (or year); a whole second shows no fraction.
STARTED = datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
ENDED = datetime(2027, 1, 1, 0, 4, 5, tzinfo=UTC)
CREATED = datetime(2026, 1, 12, 9, 30, 0, 480_000, tzinfo=UTC)
LIST = "/api/v1/conversations"
ENDPOINT_SQL = """
INSERT INTO webhook_endpoints (account_id, url, secret, created_at, updated_at)
VALUES ($1, 'https://hooks.example/', 'whsec_x', $2, $3) RETURNING id
"""


def shown(instant: datetime) -> str:
    """How msgspec writes an aware UTC datetime: the one format."""
    return msgspec.json.encode(instant).decode()[1:-1]


def times_in(body: Any) -> dict[str, list[str]]:
    """Every value of a field named *_at, anywhere in the body, by field name."""
    found: dict[str, list[str]] = {}
    items = body.items() if isinstance(body, dict) else enumerate(body) if isinstance(body, list) else ()
    for name, value in items:
        if isinstance(name, str) and name.endswith("_at") and isinstance(value, str):
            found.setdefault(name, []).append(value)
        for inner, values in times_in(value).items():
            found.setdefault(inner, []).extend(values)
    return found


@pytest.fixture
async def fractional(pg: asyncpg.Pool, world: World) -> int:
    """A conversation, an agent and a webhook endpoint whose stored times mix fractions and none."""
    await pg.execute("UPDATE agents SET created_at = $2 WHERE id = $1", world.a_agent, CREATED)
    return await make_conversation(
        pg, world.a.account_id, world.a_agent, started_at=STARTED, ended_at=ENDED, call_id="fraction"
    )


async def test_every_answer_writes_times_one_way(
    api: Api, pg: asyncpg.Pool, world: World, fractional: int
) -> None:
    endpoint = await pg.fetchval(ENDPOINT_SQL, world.a.account_id, CREATED, ENDED)
    key = world.a.key
    answers = [
        await api.call("GET", LIST, key=key, status=200),
        await api.call("GET", "/api/v1/conversations/{id}", path_id=fractional, key=key, status=200),
        await api.call("GET", "/api/v1/agents", key=key, status=200),
        await api.call("GET", "/api/v1/agents/{id}", path_id=world.a_agent, key=key, status=200),
        await api.call("GET", "/api/v1/webhooks/endpoints/{id}", path_id=endpoint, key=key, status=200),
    ]
    every = [t for body in answers for values in times_in(body).values() for t in values]
    assert len(every) >= 3 * 2 + 2 + 2 + 1 + 2 and all(ONE_FORMAT.fullmatch(t) for t in every), every
    detail, agent, hook = answers[1], answers[3], answers[4]
    assert (detail["started_at"], detail["ended_at"]) == (shown(STARTED), shown(ENDED))
    assert (detail["started_at"], detail["ended_at"]) == (
        "2026-12-31T23:59:59.999999Z",
        "2027-01-01T00:04:05Z",
    )
    item = next(c for c in answers[0]["conversations"] if c["id"] == fractional)
    assert (item["started_at"], item["ended_at"]) == (detail["started_at"], detail["ended_at"])
    # An agent's and a webhook endpoint's times (datetimes encoded by msgspec) read like a
    # conversation's (text rendered by Postgres, migration 0002): the same instant, the same text.
    assert agent["created_at"] == shown(CREATED) == "2026-01-12T09:30:00.480000Z"
    listed_agent = next(a for a in answers[2]["agents"] if a["id"] == world.a_agent)
    assert listed_agent["created_at"] == agent["created_at"]
    assert (hook["created_at"], hook["updated_at"]) == (shown(CREATED), shown(ENDED))


async def test_since_a_shown_time_includes_its_row_and_no_earlier_one(
    api: Api, world: World, fractional: int
) -> None:
    async def listed(since: str) -> list[int]:
        body = await api.call("GET", LIST, key=world.a.key, status=200, params={"since": since})
        return [item["id"] for item in body["conversations"]]

    started = shown(STARTED)
    assert fractional in await listed(started)  # the shown time itself: inclusive
    assert fractional in await listed("2027-01-01T00:59:59.999999+01:00")  # the same instant elsewhere
    assert fractional not in await listed(shown(STARTED + timedelta(microseconds=1)))
    assert fractional not in await listed("2027-01-01T00:00:00Z")
    assert fractional in await listed("2026-12-31T23:59:59Z")  # the whole second before it
