"""What callers send: list query parameters and the agent PATCH body, with their documented limits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

BIGINT_MAX = 2**63 - 1
Id = Annotated[int, msgspec.Meta(ge=1, le=BIGINT_MAX)]


class ListQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """GET /api/v1/conversations query parameters."""

    channel: Annotated[Literal["phone", "web_chat"], msgspec.Meta(description="phone or web_chat")] | None = (
        None
    )
    agent_id: Annotated[Id, msgspec.Meta(description="Filter to one receptionist")] | None = None
    since: (
        Annotated[
            datetime,
            msgspec.Meta(description="ISO-8601; conversations at/after this time (UTC if no offset)"),
        ]
        | None
    ) = None
    before_id: (
        Annotated[Id, msgspec.Meta(description="Pagination cursor (the previous page's next_before_id)")]
        | None
    ) = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=200, description="1-200, default 50")] = 50


Question = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"\S")]
Answer = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=r"\S")]
Faq = Annotated[
    dict[Question, Answer],
    msgspec.Meta(max_length=50, description="{question: answer}; at most 50 entries"),
]


class AgentPatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """PATCH /api/v1/agents/{id}: only the fields sent change; null clears an optional field."""

    agent_goal: Annotated[str, msgspec.Meta(max_length=10_000, pattern=r"\S")] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    greeting_message: Annotated[str, msgspec.Meta(max_length=500)] | None | msgspec.UnsetType = msgspec.UNSET
    business_name: Annotated[str, msgspec.Meta(max_length=100, pattern=r"\S")] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    business_services: Annotated[str, msgspec.Meta(max_length=30_000, pattern=r"\S")] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    business_website: Annotated[str, msgspec.Meta(max_length=400)] | None | msgspec.UnsetType = msgspec.UNSET
    faq: Faq | msgspec.UnsetType = msgspec.UNSET


# Why a field was refused, in words a script's author (or an LLM) can act on.
PATCH_RULES: dict[str, str] = {
    "agent_goal": "required; a non-blank string of at most 10,000 characters",
    "greeting_message": "a string of at most 500 characters, or null to clear it",
    "business_name": "required; a non-blank string of at most 100 characters",
    "business_services": "required; a non-blank string of at most 30,000 characters",
    "business_website": "a string of at most 400 characters, or null to clear it",
    "faq": (
        "an object of at most 50 {question: answer} entries; each question a non-blank string "
        "of at most 200 characters, each answer a non-blank string of at most 500 characters"
    ),
}
QUERY_RULES: dict[str, str] = {
    "channel": "must be 'phone' or 'web_chat'",
    "agent_id": "must be a positive integer",
    "since": "must be an ISO-8601 timestamp such as 2026-06-09T14:03:00Z (or a date, 2026-06-09)",
    "before_id": "must be a positive integer (the previous page's next_before_id)",
    "limit": "must be an integer between 1 and 200",
}
