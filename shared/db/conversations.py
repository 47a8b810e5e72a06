"""All read SQL for `conversations` and `conversation_details` (the worker owns the writes)."""

from __future__ import annotations

from datetime import datetime
from itertools import product

import asyncpg

from shared.db.statement_pool import Queryable
from shared.models import ListedConversation

# A list row: ListedConversation's fields in its order (so its leading values fill that declaration
# positionally, by construction), then the web-chat pair. The list never reads conversation_details.
# started_at/ended_at are read as the stored API text (migration 0002), not as timestamptz: building
# two datetimes per row was the biggest single cost of a page in the API (callgrind).
LISTED_FIELDS: tuple[str, ...] = ListedConversation.__struct_fields__
WEB_CHAT_COLUMNS = ("device_type", "origin_url")
_STORED_AS = {"started_at": "started_at_iso", "ended_at": "ended_at_iso"}
LIST_COLUMN_NAMES = (*LISTED_FIELDS, *WEB_CHAT_COLUMNS)
LIST_COLUMNS = ", ".join(f"c.{_STORED_AS.get(name, name)}" for name in LIST_COLUMN_NAMES)

# Which filters a list request carries: (channel, agent_id, since, before_id, q).
FilterShape = tuple[bool, bool, bool, bool, bool]
# q= over both documents of migration 0005, with the same tsquery: websearch syntax (words all
# match, "a phrase", or, -word), word for word ('simple'). An OR checked on the rows the list's index
# walks, not `id IN (matches)`: for a common word the page stops after its rows (0.07 ms against
# 1.3 s at 100,000 rows, where IN hashed every match first); the transcript side is one hashed set.
_MATCHES_SQL = """(c.search_document @@ websearch_to_tsquery('simple', ${n}) OR EXISTS (
    SELECT 1 FROM conversation_details d
    WHERE d.conversation_id = c.id AND d.transcript_document @@ websearch_to_tsquery('simple', ${n})))"""


def _add_agent_and_channel(where: list[str], n: int, agent: bool, channel: bool) -> int:
    """The agent_id and channel filters, as the next placeholders after $n (in that order); the last n."""
    if agent:
        n += 1
        where.append(f"c.agent_id = ${n}")
    if channel:
        n += 1
        where.append(f"c.channel = ${n}")
    return n


def _list_sql(channel: bool, agent: bool, since: bool, before: bool, q: bool) -> str:
    """One fixed, fully index-bounded statement for one combination of filters."""
    where = ["c.account_id = $1"]
    n = _add_agent_and_channel(where, 1, agent, channel)
    if since:
        n += 1
        where.append(f"c.started_at >= ${n}")
    if before:
        n += 1
        # Resolved inside the tenant: a foreign id yields NULL, i.e. no rows (checked by the caller).
        cursor = f"SELECT b.started_at, b.id FROM conversations b WHERE b.id = ${n} AND b.account_id = $1"  # noqa: S608
        where.append(f"(c.started_at, c.id) < ({cursor})")
    if q:
        n += 1
        where.append(_MATCHES_SQL.replace("{n}", str(n)))
    conditions = "\n  AND ".join(where)
    return (
        f"SELECT {LIST_COLUMNS}\nFROM conversations c\nWHERE {conditions}\n"
        f"ORDER BY c.started_at DESC, c.id DESC\nLIMIT ${n + 1}"
    )


# Built once at import: distinct statements give asyncpg's prepared statements specific plans.
LIST_CONVERSATIONS_SQL: dict[FilterShape, str] = {
    (channel, agent, since, before, q): _list_sql(channel, agent, since, before, q)
    for channel, agent, since, before, q in product((False, True), repeat=5)
}
CONVERSATION_EXISTS_SQL = "SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $2 AND account_id = $1)"
GET_CONVERSATION_SQL = f"""
SELECT {LIST_COLUMNS},
       d.transcript, d.recording_url, d.visitor_ip
FROM conversations c
LEFT JOIN conversation_details d ON d.conversation_id = c.id
WHERE c.id = $2 AND c.account_id = $1
"""  # noqa: S608 -- LIST_COLUMNS is a constant


async def list_conversations(
    conn: Queryable,
    account_id: int,
    *,
    limit: int,
    channel: str | None = None,
    agent_id: int | None = None,
    since: datetime | None = None,
    before_id: int | None = None,
    q: str | None = None,
) -> list[asyncpg.Record]:
    """Up to `limit` list rows (LIST_COLUMN_NAMES), newest first by (started_at, id), after the cursor;
    with q, only those whose caller name, label, summary or transcript match it."""
    shape = (
        channel is not None,
        agent_id is not None,
        since is not None,
        before_id is not None,
        q is not None,
    )
    args: list[object] = [account_id]
    args.extend(value for value in (agent_id, channel, since, before_id, q) if value is not None)
    args.append(limit)
    return await conn.fetch(LIST_CONVERSATIONS_SQL[shape], *args)


async def conversation_exists(conn: Queryable, account_id: int, conversation_id: int) -> bool:
    """Whether this account owns a conversation with this id."""
    found: bool = await conn.fetchval(CONVERSATION_EXISTS_SQL, account_id, conversation_id)
    return found


async def get_conversation(conn: Queryable, account_id: int, conversation_id: int) -> asyncpg.Record | None:
    """The list row plus transcript, recording_url and visitor_ip (by name); None if missing or not theirs."""
    return await conn.fetchrow(GET_CONVERSATION_SQL, account_id, conversation_id)


# Sync (migration 0005): the account's rows in (change_xid, id) order after the cursor, but only those
# written by transactions below this statement's snapshot xmin. Every transaction there has ended, so
# no row can still appear before the last one returned: one that commits late has a change_xid at or
# above the xmin and waits for a later call. pg_current_snapshot() is the statement's own snapshot.

# Which filters a sync request carries: (channel, agent_id).
SyncShape = tuple[bool, bool]


def _sync_sql(channel: bool, agent: bool) -> str:
    """One statement per filter combination, bounded by conversations_account_change_idx."""
    where = [
        "c.account_id = $1",
        "(c.change_xid, c.id) > ($2::text::xid8, $3)",
        "c.change_xid < pg_snapshot_xmin(pg_current_snapshot())",
    ]
    n = _add_agent_and_channel(where, 3, agent, channel)
    conditions = "\n  AND ".join(where)
    return (
        f"SELECT {LIST_COLUMNS}, c.change_xid::text AS change_xid\nFROM conversations c\n"
        f"WHERE {conditions}\nORDER BY c.change_xid, c.id\nLIMIT ${n + 1}"
    )


SYNC_CONVERSATIONS_SQL: dict[SyncShape, str] = {
    (channel, agent): _sync_sql(channel, agent) for channel, agent in product((False, True), repeat=2)
}


async def sync_conversations(
    conn: Queryable,
    account_id: int,
    *,
    after: tuple[int, int],
    limit: int,
    channel: str | None = None,
    agent_id: int | None = None,
) -> list[asyncpg.Record]:
    """Up to `limit` list rows (LIST_COLUMN_NAMES, then change_xid as text) changed after the
    (change_xid, id) cursor, in change order, none that a still-open transaction could precede."""
    after_xid, after_id = after
    args: list[object] = [account_id, str(after_xid), after_id]
    args.extend(value for value in (agent_id, channel) if value is not None)
    args.append(limit)
    return await conn.fetch(SYNC_CONVERSATIONS_SQL[(channel is not None, agent_id is not None)], *args)
