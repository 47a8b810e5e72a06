"""All SQL for `agents` and `agent_provider_ids`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg

from shared.db.statement_pool import Queryable
from shared.errors import Conflict, NotFound

INSERT_AGENT_SQL = """
INSERT INTO agents (account_id, phone_number, business_name, agent_goal, business_services,
                    agent_name, subscription_type, greeting_message, business_website)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id
"""
INSERT_PROVIDER_ID_SQL = """
INSERT INTO agent_provider_ids (source, provider_assistant_id, agent_id) VALUES ($1, $2, $3)
"""
ADMIN_LIST_AGENTS_SQL = """
SELECT a.id, a.account_id, a.phone_number, a.agent_name, a.business_name, a.is_suspended,
       a.created_at,
       coalesce(array_agg(p.source || ':' || p.provider_assistant_id)
                FILTER (WHERE p.source IS NOT NULL), '{}') AS provider_ids
FROM agents a
LEFT JOIN agent_provider_ids p ON p.agent_id = a.id
WHERE $1::bigint IS NULL OR a.account_id = $1
GROUP BY a.id
ORDER BY a.id
"""


async def insert_agent(
    conn: Queryable,
    *,
    account_id: int,
    phone_number: str | None,
    business_name: str,
    agent_goal: str = "Answer callers' questions and book appointments.",
    business_services: str = "General enquiries.",
    agent_name: str = "Ava",
    subscription_type: str = "growth",
    greeting_message: str | None = None,
    business_website: str | None = None,
) -> int:
    """Create an agent; its phone number must be free (it routes calls)."""
    try:
        agent_id: int = await conn.fetchval(
            INSERT_AGENT_SQL,
            account_id,
            phone_number,
            business_name,
            agent_goal,
            business_services,
            agent_name,
            subscription_type,
            greeting_message,
            business_website,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(f"phone number {phone_number} already belongs to an agent") from None
    except asyncpg.ForeignKeyViolationError:
        raise NotFound(f"no account with id {account_id}") from None
    return agent_id


async def add_provider_id(conn: Queryable, agent_id: int, source: str, provider_assistant_id: str) -> None:
    """Route a provider's assistant/agent id (Vapi, Retell, ElevenLabs) to this agent."""
    try:
        await conn.execute(INSERT_PROVIDER_ID_SQL, source, provider_assistant_id, agent_id)
    except asyncpg.UniqueViolationError:
        raise Conflict(f"{source} assistant id {provider_assistant_id} is already routed") from None
    except asyncpg.ForeignKeyViolationError:
        raise NotFound(f"no agent with id {agent_id}") from None


async def admin_list_agents(conn: Queryable, account_id: int | None = None) -> list[asyncpg.Record]:
    """Agents for the operator's CLI, optionally of one account."""
    return await conn.fetch(ADMIN_LIST_AGENTS_SQL, account_id)


# The Developer API's reads and writes: always scoped to the key's account.
API_LIST_AGENTS_SQL = """
SELECT id, phone_number, agent_name, business_name, subscription_type, created_at
FROM agents
WHERE account_id = $1
ORDER BY id
"""
API_GET_AGENT_SQL = """
SELECT id, phone_number, subscription_type, agent_name, voice, greeting_message, agent_goal,
       business_name, business_website, business_services, faq, appointment_booking, features,
       is_suspended, created_at, version
FROM agents
WHERE id = $2 AND account_id = $1
"""
# One fixed statement for every partial update: $3 names the fields sent, the rest keep their value.
# $10: the versions an If-Match accepts (NULL: no condition), checked in this statement's WHERE, so
# a concurrent write in between makes this one match no row (a 412), never overwrite it.
API_PATCH_AGENT_SQL = """
UPDATE agents SET
    agent_goal = CASE WHEN 'agent_goal' = ANY($3::text[]) THEN $4 ELSE agent_goal END,
    greeting_message = CASE WHEN 'greeting_message' = ANY($3::text[]) THEN $5 ELSE greeting_message END,
    business_name = CASE WHEN 'business_name' = ANY($3::text[]) THEN $6 ELSE business_name END,
    business_services = CASE WHEN 'business_services' = ANY($3::text[]) THEN $7 ELSE business_services END,
    business_website = CASE WHEN 'business_website' = ANY($3::text[]) THEN $8 ELSE business_website END,
    faq = CASE WHEN 'faq' = ANY($3::text[]) THEN $9::json ELSE faq END,
    updated_at = now()
WHERE id = $2 AND account_id = $1 AND ($10::bigint[] IS NULL OR version = ANY($10::bigint[]))
RETURNING *
"""
API_WRITABLE_FIELDS = (
    "agent_goal",
    "greeting_message",
    "business_name",
    "business_services",
    "business_website",
    "faq",
)


async def list_agents(conn: Queryable, account_id: int) -> list[asyncpg.Record]:
    """An account's agents, oldest first, with the list fields only."""
    return await conn.fetch(API_LIST_AGENTS_SQL, account_id)


async def get_agent(conn: Queryable, account_id: int, agent_id: int) -> asyncpg.Record | None:
    """One agent's full configuration, or None if missing or another account's."""
    return await conn.fetchrow(API_GET_AGENT_SQL, account_id, agent_id)


async def patch_agent(
    conn: Queryable,
    account_id: int,
    agent_id: int,
    fields: Sequence[str],
    values: Mapping[str, object],
    statement: str = API_PATCH_AGENT_SQL,  # or webhook_events.PATCH_AGENT_WITH_EVENT_SQL
    *,
    if_versions: Sequence[int] | None = None,
) -> int | None:
    """Write the named API-writable fields and return the agent's new version; None if the agent is
    missing, another account's, or (with `if_versions`) at a version not listed."""
    unknown = set(fields) - set(API_WRITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not writable: {sorted(unknown)}")
    args = [values.get(name) for name in API_WRITABLE_FIELDS]
    if args[-1] is None:
        args[-1] = {}  # faq is NOT NULL; the CASE keeps the old value when faq isn't sent
    versions = None if if_versions is None else list(if_versions)
    row = await conn.fetchrow(statement, account_id, agent_id, list(fields), *args, versions)
    return None if row is None else int(row["version"])


AGENT_VERSION_SQL = "SELECT version FROM agents WHERE id = $2 AND account_id = $1"


async def agent_version(conn: Queryable, account_id: int, agent_id: int) -> int | None:
    """The agent's current version, or None if missing or another account's."""
    version: int | None = await conn.fetchval(AGENT_VERSION_SQL, account_id, agent_id)
    return version
