"""shared/db/routing.py against the test Postgres: which agent an event belongs to.

A named agent id decides alone; otherwise the called number, then the provider's assistant id.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import pytest

from shared.db.accounts import insert_account
from shared.db.agent_admin import set_suspended
from shared.db.agents import add_provider_id, insert_agent
from shared.db.routing import AgentRoute, RouteQuery, find_agents


@dataclass(frozen=True)
class Agents:
    """Two accounts: `by_number` owns +15550100, `by_assistant` holds vapi's asst-1."""

    first_account: int
    second_account: int
    by_number: int
    by_assistant: int


@pytest.fixture
async def agents(pg: asyncpg.Pool) -> Agents:
    first = await insert_account(pg, "first@example.com", "growth")
    second = await insert_account(pg, "second@example.com", "growth")
    by_number = await insert_agent(pg, account_id=first, phone_number="+15550100", business_name="Dental")
    by_assistant = await insert_agent(pg, account_id=second, phone_number="+15550200", business_name="Vet")
    await add_provider_id(pg, by_assistant, "vapi", "asst-1")
    return Agents(first, second, by_number, by_assistant)


def query(
    source: str = "vapi", agent_id: int | None = None, to: str | None = None, assistant: str | None = None
) -> RouteQuery:
    return RouteQuery(source=source, agent_id=agent_id, to_number=to, provider_assistant_id=assistant)


async def test_the_called_number_routes_to_its_agent(pg: asyncpg.Pool, agents: Agents) -> None:
    assert await find_agents(pg, [query(to="+15550100")]) == [
        AgentRoute(agent_id=agents.by_number, account_id=agents.first_account, is_suspended=False)
    ]


async def test_the_assistant_id_routes_when_no_number_matches(pg: asyncpg.Pool, agents: Agents) -> None:
    expected = [AgentRoute(agents.by_assistant, agents.second_account, False)]
    assert await find_agents(pg, [query(to="+15559999", assistant="asst-1")]) == expected
    assert await find_agents(pg, [query(assistant="asst-1")]) == expected


async def test_the_number_wins_over_the_assistant_id(pg: asyncpg.Pool, agents: Agents) -> None:
    (route,) = await find_agents(pg, [query(to="+15550100", assistant="asst-1")])
    assert route is not None and route.agent_id == agents.by_number


async def test_an_assistant_id_counts_only_at_its_own_provider(pg: asyncpg.Pool, agents: Agents) -> None:
    assert await find_agents(pg, [query(source="retell", assistant="asst-1")]) == [None]


async def test_a_named_agent_decides_alone(pg: asyncpg.Pool, agents: Agents) -> None:
    (named,) = await find_agents(pg, [query("web_chat", agent_id=agents.by_assistant, to="+15550100")])
    assert named == AgentRoute(agents.by_assistant, agents.second_account, False)
    # A named agent that does not exist is no agent, even though the number would match one.
    missing = query("phone", agent_id=999_999, to="+15550100", assistant="asst-1")
    assert await find_agents(pg, [missing]) == [None]


async def test_a_suspended_agent_is_found_and_says_so(pg: asyncpg.Pool, agents: Agents) -> None:
    await set_suspended(pg, agents.by_number, True)
    assert await find_agents(pg, [query(to="+15550100")]) == [
        AgentRoute(agents.by_number, agents.first_account, is_suspended=True)
    ]


async def test_a_batch_answers_in_order_none_where_nothing_matches(pg: asyncpg.Pool, agents: Agents) -> None:
    queries = [
        query(to="+15550200"),
        query(to="+15559999"),
        query(assistant="asst-1"),
        query(to="+15550100"),
        query(to="+15550100"),
        query(),
    ]
    routes = await find_agents(pg, queries)
    assert [route.agent_id if route else None for route in routes] == [
        agents.by_assistant, None, agents.by_assistant, agents.by_number, agents.by_number, None,
    ]  # fmt: skip
    assert await find_agents(pg, []) == []
