"""GET /api/v1/agents, GET and PATCH /api/v1/agents/{id}."""

from __future__ import annotations

import asyncpg
import msgspec
from aiohttp import web

from services.api.conversations import StoredDataError, path_id
from services.api.reads import read
from services.api.schemas import Agent, AgentList, AgentSummary, AgentUpdated
from services.api.typedefs import api_key_info
from services.api.validation import parse_agent_patch
from shared.db.agents import get_agent, list_agents, patch_agent
from shared.db.webhook_events import PATCH_AGENT_WITH_EVENT_SQL
from shared.errors import NotFound
from shared.web import json_response, statements_key


def agent_from(row: asyncpg.Record) -> Agent:
    """A full agent row (jsonb columns already decoded) as the public shape."""
    try:
        return msgspec.convert(dict(row), Agent)
    except msgspec.ValidationError as exc:
        raise StoredDataError(f"agent {row['id']}: {exc}") from exc


async def list_handler(request: web.Request) -> web.Response:
    """Every receptionist of the key's account."""
    account_id = request[api_key_info].account_id
    rows = await read(request.app, lambda pool: list_agents(pool, account_id))
    return json_response(AgentList([AgentSummary(*row) for row in rows]))


async def detail_handler(request: web.Request) -> web.Response:
    """One receptionist's configuration; 404 if missing or another account's."""
    agent_id = path_id(request, "Agent")
    account_id = request[api_key_info].account_id
    row = await read(request.app, lambda pool: get_agent(pool, account_id, agent_id))
    if row is None:
        raise NotFound("Agent not found.")
    return json_response(agent_from(row))


async def patch_handler(request: web.Request) -> web.Response:
    """Partial update of the writable fields; replies with the fields written, in the order sent."""
    agent_id = path_id(request, "Agent")
    sent, patch = parse_agent_patch(await request.read())
    values = {name: getattr(patch, name) for name in sent}
    # On the primary, never the replica: its WHERE must see the latest row (RETURNING is the read-back).
    found = await patch_agent(
        request.app[statements_key], request[api_key_info].account_id, agent_id, sent, values,
        statement=PATCH_AGENT_WITH_EVENT_SQL,  # agent.updated in the same statement (the outbox)
    )  # fmt: skip
    if not found:
        raise NotFound("Agent not found.")
    return json_response(AgentUpdated(agent_id, sent))
