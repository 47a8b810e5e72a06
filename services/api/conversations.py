"""GET /api/v1/conversations and /api/v1/conversations/{id}."""

from __future__ import annotations

import re

import asyncpg
import msgspec
from aiohttp import web

from services.api.conditional import body_tagged_get
from services.api.inputs import BIGINT_MAX, ListQuery
from services.api.reads import read
from services.api.schemas import (
    ConversationDetail,
    ConversationItem,
    ConversationList,
    TranscriptTurn,
    WebChat,
    WebChatDetail,
)
from services.api.typedefs import api_key_info
from services.api.validation import parse_list_query
from shared.db.conversations import (
    LIST_COLUMN_NAMES,
    LISTED_FIELDS,
    conversation_exists,
    get_conversation,
    list_conversations,
)
from shared.db.statement_pool import StatementPool
from shared.errors import InvalidInput, NotFound
from shared.web import json_response


class StoredDataError(RuntimeError):
    """A stored row doesn't fit the public shape (a worker or migration bug)."""


# Positions in a list row, found by name once: its leading values are ListedConversation's fields.
_LISTED = len(LISTED_FIELDS)
_CHANNEL, _DEVICE_TYPE, _ORIGIN_URL = map(LIST_COLUMN_NAMES.index, ("channel", "device_type", "origin_url"))


def item_from(row: asyncpg.Record) -> ConversationItem:
    """A list row as the public item."""
    # Indexes and one tuple concatenation, not names or `f(*a, b)`: this runs for every row of every
    # page, and those cost 10-20 % more per page (docs/api.md).
    web_chat = WebChat(row[_DEVICE_TYPE], row[_ORIGIN_URL]) if row[_CHANNEL] == "web_chat" else None
    return ConversationItem(*(row[:_LISTED] + (web_chat,)))


def detail_from(row: asyncpg.Record) -> ConversationDetail:
    """A detail row as the public single conversation (raw_role stays internal)."""
    web_chat = (
        WebChatDetail(row["device_type"], row["origin_url"], row["visitor_ip"])
        if row["channel"] == "web_chat"
        else None
    )
    try:
        transcript = msgspec.convert(row["transcript"] or [], list[TranscriptTurn])
    except msgspec.ValidationError as exc:
        # Stored data we can't publish is our bug: a 500, never a 422 that blames the caller.
        raise StoredDataError(f"conversation {row['id']} transcript: {exc}") from exc
    return ConversationDetail(*(row[:_LISTED] + (web_chat, transcript, row["recording_url"])))


async def _page(pool: StatementPool, account_id: int, query: ListQuery) -> list[asyncpg.Record]:
    """The page's rows (one more than asked for); InvalidInput if before_id names no conversation."""
    rows = await list_conversations(
        pool,
        account_id,
        limit=query.limit + 1,  # one extra row tells whether another page exists
        channel=query.channel,
        agent_id=query.agent_id,
        since=query.since,
        before_id=query.before_id,
        q=query.q,
    )
    # An empty page after a cursor is either the end or a bad cursor; only then pay to tell.
    if (
        not rows
        and query.before_id is not None
        and not await conversation_exists(pool, account_id, query.before_id)
    ):
        raise InvalidInput("before_id: no such conversation")
    return rows


async def list_handler(request: web.Request) -> web.Response:
    """A page of the account's conversations, newest first, keyset-paginated."""
    query = parse_list_query(request.query)
    account_id = request[api_key_info].account_id
    rows = await read(request.app, lambda pool: _page(pool, account_id, query))
    items = [item_from(row) for row in rows[: query.limit]]
    next_before_id = items[-1].id if len(rows) > query.limit else None
    return json_response(ConversationList(items, next_before_id, query.limit))


_CANONICAL_ID = re.compile(r"[1-9][0-9]{0,18}")


def path_id(request: web.Request, what: str) -> int:
    """The {id} path segment; anything that can't be one of our ids, as we write them (ASCII digits,
    no leading zero, no sign), is simply not found."""
    raw = request.match_info["id"]
    if not _CANONICAL_ID.fullmatch(raw) or int(raw) > BIGINT_MAX:
        raise NotFound(f"{what} not found.")
    return int(raw)


async def detail_handler(request: web.Request) -> web.Response:
    """One conversation with its transcript; 404 if missing or another account's; 304 if unchanged."""
    conversation_id = path_id(request, "Conversation")
    account_id = request[api_key_info].account_id
    row = await read(request.app, lambda pool: get_conversation(pool, account_id, conversation_id))
    if row is None:
        raise NotFound("Conversation not found.")
    # Tagged by its bytes: the worker can rewrite the row and its transcript (a later, richer event),
    # and no version is kept across both tables; the hash follows whatever changed the answer.
    return body_tagged_get(request, json_response(detail_from(row)))
