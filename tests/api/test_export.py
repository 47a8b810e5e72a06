"""GET /api/v1/conversations/export: every conversation of the account once, oldest first, in the
detail's exact shape (NDJSON) or flat (CSV); filters, bad parameters, scopes and the row budget."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import asyncpg
import msgspec
import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from services.api.app import create_app
from services.api.export.handler import BATCH_ROWS
from shared.config import Settings
from shared.db.conversation_export import CSV_HEADER
from tests.api.conftest import T0, World
from tests.api.contract import Api
from tests.api.factories import bulk_conversations, make_conversation

EXPORT = "/api/v1/conversations/export"


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _export(client: TestClient, key: str, **params: str) -> tuple[int, str, str]:
    reply = await client.get(EXPORT, params=params, headers=_bearer(key))
    return reply.status, reply.headers.get("Content-Type", ""), await reply.text()


def _ndjson(text: str) -> list[dict[str, object]]:
    assert text.endswith("\n")
    return [msgspec.json.decode(line) for line in text.splitlines()]


async def test_ndjson_lines_are_the_details_oldest_first(api: Api, world: World) -> None:
    status, content_type, text = await _export(api.client, world.a.read_key)
    assert (status, content_type) == (200, "application/x-ndjson")
    lines = _ndjson(text)
    assert [line["id"] for line in lines] == [world.a_call, world.a_chat]  # B's call never
    for line in lines:
        detail = await api.call(
            "GET", "/api/v1/conversations/{id}", key=world.a.key, status=200, path_id=line["id"]
        )
        assert line == detail  # field for field, in the same order
        assert list(line) == list(detail)


async def test_csv_is_flat_with_the_transcript_as_text(api: Api, world: World) -> None:
    status, content_type, text = await _export(api.client, world.a.key, format="csv")
    assert (status, content_type) == (200, "text/csv; charset=utf-8")
    header, call, chat = list(csv.reader(io.StringIO(text)))
    assert tuple(header) == CSV_HEADER
    call_row, chat_row = dict(zip(header, call, strict=True)), dict(zip(header, chat, strict=True))
    assert call_row["id"] == str(world.a_call)
    assert (call_row["from"], call_row["to"]) == ("+15550001111", "+15551234567")  # phone numbers are data
    assert call_row["transcript"] == "agent: Thanks for calling Acme!\ncaller: Do you do free estimates?"
    assert call_row["started_at"] == "2026-06-09T13:03:00Z"
    assert (call_row["is_archived"], call_row["device_type"], call_row["visitor_ip"]) == ("false", "", "")
    assert call_row["recording_url"] == "https://rec.example/a.mp3"
    assert (chat_row["device_type"], chat_row["visitor_ip"]) == ("desktop", "203.0.113.7")
    assert chat_row["transcript"] == "visitor: hi"


async def test_csv_cells_a_spreadsheet_would_run_are_quoted(api: Api, world: World, pg: asyncpg.Pool) -> None:
    await make_conversation(
        pg, world.b.account_id, world.b_agent, started_at=T0, ended_at=T0 + timedelta(minutes=1),
        call_id="formula", caller_name='=HYPERLINK("https://evil.example")', summary="+1 plus",
        transcript=[{"role": "caller", "content": "-2", "elapsed_s": 0, "raw_role": "user"}],
    )  # fmt: skip
    _, _, text = await _export(api.client, world.b.key, format="csv")
    rows = [dict(zip(CSV_HEADER, row, strict=True)) for row in list(csv.reader(io.StringIO(text)))[1:]]
    formula = next(row for row in rows if row["summary"] == "'+1 plus")
    assert formula["caller_name"] == '\'=HYPERLINK("https://evil.example")'
    assert formula["transcript"] == "caller: -2"  # "caller: " comes first: nothing to run


async def test_filters_bound_the_export(api: Api, world: World) -> None:
    async def ids(**params: str) -> list[object]:
        status, _, text = await _export(api.client, world.a.key, **params)
        assert status == 200, text
        return [line["id"] for line in _ndjson(text)] if text else []

    assert await ids(channel="web_chat") == [world.a_chat]
    assert await ids(channel="phone") == [world.a_call]
    assert await ids(agent_id=str(world.a_agent2)) == []
    assert await ids(since="2026-06-09T14:03:00Z") == [world.a_chat]  # since is inclusive
    assert await ids(until="2026-06-09T14:03:00Z") == [world.a_call]  # until is exclusive
    assert await ids(since="2026-06-10", until="2026-06-09") == []  # an empty range, not an error
    assert await ids(since="2026-06-09", until="2026-06-10", agent_id=str(world.a_agent)) == [
        world.a_call, world.a_chat,
    ]  # fmt: skip


async def test_many_batches_each_row_once_in_order(api: Api, world: World, pg: asyncpg.Pool) -> None:
    n = BATCH_ROWS * 2 + 7
    await bulk_conversations(pg, world.b.account_id, [world.b_agent], n, T0 - timedelta(days=1), "bulk")
    _, _, text = await _export(api.client, world.b.key)
    lines = _ndjson(text)
    assert len(lines) == n + 1  # and B's own call
    keys = [(line["started_at"], line["id"]) for line in lines]
    assert keys == sorted(keys)
    assert len({line["id"] for line in lines}) == len(lines)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": "xml"}, "format"), ({"format": "null"}, "format"), ({"channel": "fax"}, "channel"),
        ({"agent_id": "0"}, "agent_id"), ({"agent_id": "null"}, "agent_id"),
        ({"agent_id": "1e3"}, "agent_id"), ({"agent_id": str(2**63)}, "agent_id"),
        ({"since": "null"}, "since"), ({"until": "yesterday"}, "until"), ({"limit": "5"}, "limit"),
    ],
)  # fmt: skip
async def test_bad_parameters_are_refused_by_name(
    api: Api, world: World, params: dict[str, str], field: str
) -> None:
    body = await api.call("GET", EXPORT, key=world.a.key, status=422, params=params)
    assert body["detail"].startswith(f"{field}: ")


async def test_a_repeated_parameter_is_refused(api: Api, world: World) -> None:
    params = [("format", "csv"), ("format", "ndjson")]
    body = await api.call("GET", EXPORT, key=world.a.key, status=422, params=params)
    assert body["detail"].startswith("format: given more than once")


async def test_needs_a_read_key(api: Api, world: World) -> None:
    await api.call("GET", EXPORT, key=world.a.write_only_key, status=403)
    await api.call("GET", EXPORT, key=None, status=401)


async def test_the_row_budget_is_per_account(
    aiohttp_client: AiohttpClient, settings: Settings, world: World
) -> None:
    client: TestClient = await aiohttp_client(
        create_app(msgspec.structs.replace(settings, export_rows_per_min=2))
    )
    assert (await _export(client, world.a.key))[0] == 200  # its 2 rows: the minute's budget
    reply = await client.get(EXPORT, headers=_bearer(world.a.read_key))  # another key, same account
    assert reply.status == 429
    assert (await reply.json())["detail"] == "export: this account's 2 rows per minute are used up"
    assert 1 <= int(reply.headers["Retry-After"]) <= 60
    assert (await _export(client, world.b.key))[0] == 200  # another account's budget is its own
