"""What callers send: list query parameters and the agent PATCH body, with their documented limits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

BIGINT_MAX = 2**63 - 1
Id = Annotated[int, msgspec.Meta(ge=1, le=BIGINT_MAX)]

# The text rules, as regexes that read the same in Python's `re` (the server, through msgspec's
# `pattern`) and in ECMA-262 (JSON Schema, so openapi.json and schema fuzzers): `\uXXXX` escapes
# and character classes only, no `\s`/`\S`/`\w` (their Unicode sets differ between the two).
# Control characters (C0, DEL, C1): Postgres text can't hold U+0000, and none of the others
# belongs in a receptionist's configuration. Long texts may hold tab, line feed and carriage return.
_CONTROLS = r"\u0000-\u001f\u007f-\u009f"
_TEXT_CONTROLS = r"\u0009\u000a\u000d"
_TEXT_FORBIDDEN = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
# What shows nothing on its own: spaces, zero-width and bidi format characters, joiners, the BOM,
# variation selectors, fillers, the braille blank, noncharacters (the Basic Multilingual Plane's
# White_Space and Default_Ignorable_Code_Point characters, and a few look-alikes).
_INVISIBLE = (
    r"\u0020\u00a0\u00ad\u034f\u061c\u115f\u1160\u1680\u17b4\u17b5\u180b-\u180f\u2000-\u200f"
    r"\u2028-\u202f\u205f-\u206f\u2800\u3000\u3164\ufdd0-\ufdef\ufe00-\ufe0f\ufeff\uffa0"
    r"\ufff0-\ufffb\ufffe\uffff"
)
# The leading invisible run can't overlap the first visible character, so matching stays linear.
VISIBLE_TEXT = rf"^[{_INVISIBLE}{_TEXT_CONTROLS}]*[^{_CONTROLS}{_INVISIBLE}][^{_TEXT_FORBIDDEN}]*$"
VISIBLE_LINE = rf"^[{_INVISIBLE}]*[^{_CONTROLS}{_INVISIBLE}][^{_CONTROLS}]*$"
ANY_TEXT = rf"^[^{_TEXT_FORBIDDEN}]*$"
ANY_LINE = rf"^[^{_CONTROLS}]*$"


# The sync cursor as sent (services/api/sync.py): 17 bytes (version 1, change_xid, id) as base64url
# without padding, spelled out so that every string the pattern admits is a cursor we could have
# written: "AQ".."Af" is the version byte, the 13th character starts an id below 2**63, and the last
# one carries no leftover bits.
SYNC_CURSOR = "^A[Q-Za-f][A-Za-z0-9_-]{10}[A-Za-f][A-Za-z0-9_-]{9}[AEIMQUYcgkosw048]$"
SearchText = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=200,
        pattern=VISIBLE_LINE,
        description=(
            "Full-text search, word for word in any language: every word must appear (in the caller "
            'name, label and summary, or in the transcript); "a phrase" in quotes, `or` between '
            "alternatives, -word to exclude. 1-200 characters, one line"
        ),
    ),
]


class ListQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """GET /api/v1/conversations query parameters."""

    channel: Annotated[Literal["phone", "web_chat"], msgspec.Meta(description="phone or web_chat")] | None = (
        None
    )
    agent_id: Annotated[Id, msgspec.Meta(description="Filter to one receptionist")] | None = None
    since: (
        Annotated[
            datetime,
            msgspec.Meta(
                description=(
                    "ISO-8601 (RFC 3339) timestamp or date; conversations at/after this time. "
                    "A date means midnight UTC; a timestamp without offset is UTC."
                )
            ),
        ]
        | None
    ) = None
    before_id: (
        Annotated[
            Id,
            msgspec.Meta(
                description=(
                    "Pagination cursor (the previous page's next_before_id); must be one of your "
                    "conversations, else 422 `before_id: no such conversation`"
                )
            ),
        ]
        | None
    ) = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=200, description="1-200, default 50")] = 50
    q: SearchText | None = None


class SyncQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """GET /api/v1/conversations/sync query parameters."""

    cursor: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=SYNC_CURSOR,
                description="The previous page's next_cursor; omit it to start from the first conversation",
            ),
        ]
        | None
    ) = None
    channel: Annotated[Literal["phone", "web_chat"], msgspec.Meta(description="phone or web_chat")] | None = (
        None
    )
    agent_id: Annotated[Id, msgspec.Meta(description="Only one receptionist's conversations")] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=200, description="1-200, default 50")] = 50


Question = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=VISIBLE_LINE)]
Answer = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=VISIBLE_TEXT)]
Faq = Annotated[
    dict[Question, Answer],
    msgspec.Meta(max_length=50, description="{question: answer}; at most 50 entries"),
]


class AgentPatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """PATCH /api/v1/agents/{id}: only the fields sent change; null clears an optional field."""

    agent_goal: Annotated[str, msgspec.Meta(max_length=10_000, pattern=VISIBLE_TEXT)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    greeting_message: (
        Annotated[str, msgspec.Meta(max_length=500, pattern=ANY_TEXT)] | None | msgspec.UnsetType
    ) = msgspec.UNSET
    business_name: Annotated[str, msgspec.Meta(max_length=100, pattern=VISIBLE_LINE)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    business_services: (
        Annotated[str, msgspec.Meta(max_length=30_000, pattern=VISIBLE_TEXT)] | msgspec.UnsetType
    ) = msgspec.UNSET
    business_website: (
        Annotated[str, msgspec.Meta(max_length=400, pattern=ANY_LINE)] | None | msgspec.UnsetType
    ) = msgspec.UNSET
    faq: Faq | msgspec.UnsetType = msgspec.UNSET


_TEXT = "with at least one visible character; no control characters other than tab and line breaks"
_LINE = "with at least one visible character; one line, no control characters"
# Why a field was refused, in words a script's author (or an LLM) can act on.
PATCH_RULES: dict[str, str] = {
    "agent_goal": f"required; a non-blank string of at most 10,000 characters {_TEXT}",
    "greeting_message": (
        "a string of at most 500 characters (no control characters other than tab and line breaks), "
        "or null to clear it"
    ),
    "business_name": f"required; a non-blank string of at most 100 characters {_LINE}",
    "business_services": f"required; a non-blank string of at most 30,000 characters {_TEXT}",
    "business_website": (
        "a string of at most 400 characters (one line, no control characters), or null to clear it"
    ),
    "faq": (
        "an object of at most 50 {question: answer} entries; each question a non-blank line of at most "
        "200 characters, each answer a non-blank string of at most 500 characters (non-blank: at least "
        "one visible character; no control characters, except tab and line breaks in answers)"
    ),
}
# The fields held to one line; Python's `$` also matches before a final "\n", ECMA's doesn't, so
# validation.py refuses a line feed in these itself.
LINE_FIELDS = ("business_name", "business_website")
QUERY_RULES: dict[str, str] = {
    "channel": "must be 'phone' or 'web_chat'",
    "agent_id": "must be a positive integer",
    "since": "must be an ISO-8601 timestamp such as 2026-06-09T14:03:00Z (or a date, 2026-06-09)",
    "before_id": "must be a positive integer (the previous page's next_before_id)",
    "limit": "must be an integer between 1 and 200",
    "q": (
        "must be 1-200 characters on one line with at least one visible character and no control "
        'characters (a bare null is refused as a stringified null: search the word as "null")'
    ),
}
SYNC_RULES: dict[str, str] = {
    "cursor": "must be a next_cursor returned by this endpoint, unchanged",
    "channel": QUERY_RULES["channel"],
    "agent_id": QUERY_RULES["agent_id"],
    "limit": QUERY_RULES["limit"],
}
