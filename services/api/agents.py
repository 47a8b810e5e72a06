"""GET /api/v1/agents, GET and PATCH /api/v1/agents/{id}."""

from __future__ import annotations

import re

import asyncpg
import msgspec
from aiohttp import web

from services.api.conditional import (
    body_tagged_get,
    condition,
    conditional_get,
    quoted,
    strong_tags,
)
from services.api.conversations import StoredDataError, path_id
from services.api.reads import read
from services.api.schemas import Agent, AgentList, AgentSummary, AgentUpdated
from services.api.typedefs import api_key_info
from services.api.validation import parse_agent_patch
from shared.db.agents import agent_version, get_agent, list_agents, patch_agent
from shared.db.webhook_events import PATCH_AGENT_WITH_EVENT_SQL
from shared.errors import NotFound, PreconditionFailed
from shared.web import json_response, statements_key

# An agent's entity tag names the agent and its row version (bumped by every write, migration 0006),
# so If-Match can be checked by the UPDATE itself. Versions stay far below 19 digits.
_AGENT_TAG = re.compile(r"agent-([1-9][0-9]{0,18})-v([1-9][0-9]{0,17})")
STALE = (
    "The agent changed since you read it (If-Match names none of its current ETags); nothing was "
    "written. GET it again, re-apply your change and retry with the new ETag."
)


def agent_tag(agent_id: int, version: int) -> str:
    """The opaque part of the agent's ETag."""
    return f"agent-{agent_id}-v{version}"


def agent_from(row: asyncpg.Record) -> Agent:
    """A full agent row (json and jsonb columns already decoded) as the public shape."""
    try:
        return msgspec.convert(dict(row), Agent)
    except msgspec.ValidationError as exc:
        raise StoredDataError(f"agent {row['id']}: {exc}") from exc


async def list_handler(request: web.Request) -> web.Response:
    """Every receptionist of the key's account (tagged by its body: a small list, cheap to hash)."""
    account_id = request[api_key_info].account_id
    rows = await read(request.app, lambda pool: list_agents(pool, account_id))
    return body_tagged_get(request, json_response(AgentList([AgentSummary(*row) for row in rows])))


async def detail_handler(request: web.Request) -> web.Response:
    """One receptionist's configuration; 404 if missing or another account's; 304 if unchanged."""
    agent_id = path_id(request, "Agent")
    account_id = request[api_key_info].account_id
    row = await read(request.app, lambda pool: get_agent(pool, account_id, agent_id))
    if row is None:
        raise NotFound("Agent not found.")
    return conditional_get(request, json_response(agent_from(row)), agent_tag(agent_id, row["version"]))


def if_match_versions(request: web.Request, agent_id: int) -> list[int] | None:
    """The versions If-Match accepts (None: no condition, or "*", which any existing agent meets)."""
    sent = condition(request, "If-Match")
    if sent is None or sent.any:
        return None
    matches = (_AGENT_TAG.fullmatch(opaque) for opaque in strong_tags(sent))
    return [int(m[2]) for m in matches if m is not None and int(m[1]) == agent_id]


async def patch_handler(request: web.Request) -> web.Response:
    """Partial update of the writable fields; replies with the fields written, in the order sent.
    With If-Match, only if the agent is still at that ETag (412 otherwise, nothing written)."""
    agent_id = path_id(request, "Agent")
    versions = if_match_versions(request, agent_id)
    sent, patch = parse_agent_patch(await request.read())
    values = {name: getattr(patch, name) for name in sent}
    account_id = request[api_key_info].account_id
    # On the primary, never the replica: its WHERE must see the latest row (RETURNING is the read-back).
    version = await patch_agent(
        request.app[statements_key], account_id, agent_id, sent, values,
        statement=PATCH_AGENT_WITH_EVENT_SQL,  # agent.updated in the same statement (the outbox)
        if_versions=versions,
    )  # fmt: skip
    if version is None:
        # Nothing was written; only now tell "not yours or gone" from "changed since read".
        if versions is None or await agent_version(request.app[statements_key], account_id, agent_id) is None:
            raise NotFound("Agent not found.")
        raise PreconditionFailed(STALE)
    # The new ETag, for a next conditional PATCH without a GET in between.
    return json_response(AgentUpdated(agent_id, sent), headers={"ETag": quoted(agent_tag(agent_id, version))})
