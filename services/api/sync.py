"""GET /api/v1/conversations/sync: what changed since the cursor, each change once (docs/api.md)."""

from __future__ import annotations

import base64
import binascii
import struct

from aiohttp import web

from services.api.conversations import item_from
from services.api.inputs import BIGINT_MAX, SYNC_RULES
from services.api.reads import read
from services.api.schemas import ConversationSync
from services.api.typedefs import api_key_info
from services.api.validation import parse_sync_query
from shared.db.conversations import LIST_COLUMN_NAMES, sync_conversations
from shared.errors import InvalidInput
from shared.web import json_response

# The cursor: a version byte, then the last returned row's (change_xid, id), big-endian. Opaque to
# callers, so its layout can change with the version byte.
_CURSOR = struct.Struct(">BQQ")
_CURSOR_VERSION = 1
_START = (0, 0)  # before every change
_CHANGE_XID = len(LIST_COLUMN_NAMES)


def encode_cursor(position: tuple[int, int]) -> str:
    """A position as the opaque next_cursor (base64url, no padding)."""
    raw = _CURSOR.pack(_CURSOR_VERSION, *position)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> tuple[int, int]:
    """The position a next_cursor names; anything we didn't write that way is a 422 naming cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, change_xid, row_id = _CURSOR.unpack(raw)
    except (binascii.Error, struct.error, ValueError):
        raise InvalidInput(f"cursor: {SYNC_RULES['cursor']}") from None
    position = (change_xid, row_id)
    # Only the exact text we hand out: no other version, id or spelling of the same bytes.
    if version != _CURSOR_VERSION or row_id > BIGINT_MAX or encode_cursor(position) != cursor:
        raise InvalidInput(f"cursor: {SYNC_RULES['cursor']}")
    return position


async def sync_handler(request: web.Request) -> web.Response:
    """The account's conversations changed after the cursor, oldest change first."""
    query = parse_sync_query(request.query)
    after = _START if query.cursor is None else decode_cursor(query.cursor)
    account_id = request[api_key_info].account_id
    rows = await read(
        request.app,
        lambda pool: sync_conversations(
            pool,
            account_id,
            after=after,
            limit=query.limit + 1,  # one extra row tells whether more is visible now
            channel=query.channel,
            agent_id=query.agent_id,
        ),
    )
    page = rows[: query.limit]
    if page:
        after = (int(page[-1][_CHANGE_XID]), page[-1]["id"])
    body = ConversationSync([item_from(row) for row in page], encode_cursor(after), len(rows) <= query.limit)
    return json_response(body)
