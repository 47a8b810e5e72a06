"""The list and detail reads fill ListedConversation by position: the SELECT is built from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

from shared.db.conversations import (
    LIST_COLUMN_NAMES,
    LISTED_FIELDS,
    get_conversation,
    list_conversations,
)
from shared.models import ListedConversation
from tests.api.factories import make_agent, make_conversation, make_tenant

T0 = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
# What each listed field is read from, where the column has another name.
STORED_AS = {"started_at": "started_at_iso", "ended_at": "ended_at_iso"}


def test_the_list_columns_start_with_the_declared_fields_in_order() -> None:
    assert ListedConversation.__struct_fields__ == LISTED_FIELDS
    assert LIST_COLUMN_NAMES[: len(LISTED_FIELDS)] == LISTED_FIELDS
    assert LIST_COLUMN_NAMES[len(LISTED_FIELDS) :] == ("device_type", "origin_url")


async def _one_of_each(pg: asyncpg.Pool) -> tuple[int, int]:
    tenant = await make_tenant(pg, "rows@acme.test")
    agent = await make_agent(pg, tenant.account_id, "+15550100001")
    # Every value distinct, so a column read into the wrong field shows.
    await make_conversation(
        pg, tenant.account_id, agent, channel="web_chat", started_at=T0, ended_at=T0 + timedelta(minutes=3),
        call_id="chat-1", caller_name="Ann", label="booking", summary="Booked a table.",
        end_reason="visitor_left", is_viewed=True, device_type="mobile", origin_url="https://acme.test/",
        visitor_ip="203.0.113.9",
    )  # fmt: skip
    return tenant.account_id, agent


def _by_name(row: asyncpg.Record) -> dict[str, object]:
    return {field: row[STORED_AS.get(field, field)] for field in LISTED_FIELDS}


async def test_a_list_row_fills_the_declaration_by_position_as_by_name(pg: asyncpg.Pool) -> None:
    account_id, _ = await _one_of_each(pg)
    (row,) = await list_conversations(pg, account_id, limit=5)
    assert tuple(row.keys())[len(LISTED_FIELDS) :] == ("device_type", "origin_url")
    listed = ListedConversation(*row[: len(LISTED_FIELDS)])
    assert msgspec.structs.asdict(listed) == _by_name(row)
    assert listed.started_at == "2026-03-01T10:00:00.123456Z" and listed.channel == "web_chat"


async def test_a_detail_row_fills_the_declaration_by_position_as_by_name(pg: asyncpg.Pool) -> None:
    account_id, _ = await _one_of_each(pg)
    (listed_row,) = await list_conversations(pg, account_id, limit=5)
    row = await get_conversation(pg, account_id, listed_row["id"])
    assert row is not None
    listed = ListedConversation(*row[: len(LISTED_FIELDS)])
    assert msgspec.structs.asdict(listed) == _by_name(row)
    assert (row["visitor_ip"], row["device_type"]) == ("203.0.113.9", "mobile")
