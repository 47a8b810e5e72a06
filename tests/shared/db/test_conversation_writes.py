"""The worker's upsert follows from ConversationWrite: every field has a column, of the declared type."""

from __future__ import annotations

import asyncpg

from shared.db.conversation_writes import (
    CONVERSATION_COLUMNS,
    DETAIL_COLUMNS,
    ROUTE_COLUMNS,
    UPSERT_CONVERSATIONS_SQL,
    ConversationWrite,
)
from shared.models import ConversationFacts, FinishedConversation

COLUMN_TYPES_SQL = """
SELECT column_name, udt_name FROM information_schema.columns WHERE table_name = $1
"""
# information_schema's names for the types the upsert casts its arrays to.
UDT = {"bigint": "int8", "integer": "int4", "smallint": "int2", "text": "text", "timestamptz": "timestamptz"}


def test_every_field_of_a_write_goes_to_exactly_one_table() -> None:
    fields = set(ConversationWrite.__struct_fields__)
    assert set(CONVERSATION_COLUMNS) | set(DETAIL_COLUMNS) == fields
    assert not set(CONVERSATION_COLUMNS) & set(DETAIL_COLUMNS)
    assert not set(ROUTE_COLUMNS) & fields  # the owner comes from routing, never from the event


def test_the_event_and_the_write_share_the_facts() -> None:
    facts = ConversationFacts.__struct_fields__
    assert FinishedConversation.__struct_fields__[: len(facts)] == facts
    assert ConversationWrite.__struct_fields__[: len(facts)] == facts


def test_the_statement_writes_the_columns_in_the_mapping_order() -> None:
    names = ", ".join([*ROUTE_COLUMNS, *CONVERSATION_COLUMNS])
    assert f"INSERT INTO conversations AS c ({names})" in UPSERT_CONVERSATIONS_SQL
    assert "source = EXCLUDED" not in UPSERT_CONVERSATIONS_SQL  # the key never changes


async def test_the_declared_types_are_the_tables_types(pg: asyncpg.Pool) -> None:
    stored = {r["column_name"]: r["udt_name"] for r in await pg.fetch(COLUMN_TYPES_SQL, "conversations")}
    for column, pg_type in {**ROUTE_COLUMNS, **CONVERSATION_COLUMNS}.items():
        assert stored[column] == UDT[pg_type], column
    details = {r["column_name"] for r in await pg.fetch(COLUMN_TYPES_SQL, "conversation_details")}
    assert set(DETAIL_COLUMNS) <= details
