"""Hostile input: every refusal is a 422 naming the field (a 404 for a path id), nothing is written,
never a 500; and the OpenAPI document refuses exactly what the server refuses."""

from __future__ import annotations

from typing import Any

import asyncpg
import jsonschema_rs
import msgspec
import pytest

from services.api.openapi import build_openapi
from services.api.validation import parse_agent_patch
from shared.errors import InvalidInput
from tests.api.conftest import World
from tests.api.contract import Api

LIST = "/api/v1/conversations"
ONE = "/api/v1/agents/{id}"
JSON = {"Content-Type": "application/json"}
TEXT_FIELDS = ("agent_goal", "greeting_message", "business_name", "business_services", "business_website")
REQUIRED = ("agent_goal", "business_name", "business_services")
# Shows nothing on its own: whitespace, zero-width and format characters, fillers.
INVISIBLE = ["\u200b", "\ufeff", "\u2060", "\u200d", "\u00ad", "\u3164", "\u2800", "\u3000", " \u200b\t\n"]


async def stored(pg: asyncpg.Pool, agent_id: int) -> dict[str, Any]:
    row = await pg.fetchrow("SELECT * FROM agents WHERE id = $1", agent_id)
    assert row is not None
    return dict(row)


async def refused(api: Api, pg: asyncpg.Pool, world: World, field: str, **request: Any) -> str:
    """PATCH, expect a 422 naming `field` and an unchanged row; the detail."""
    before = await stored(pg, world.a_agent)
    body = await api.call("PATCH", ONE, path_id=world.a_agent, key=world.a.key, status=422, **request)
    assert body["detail"].startswith(f"{field}: "), body
    assert await stored(pg, world.a_agent) == before
    return str(body["detail"])


# Finding 1: U+0000 reached Postgres (CharacterNotInRepertoireError / UntranslatableCharacterError: 500).


@pytest.mark.parametrize("field", TEXT_FIELDS)
async def test_nul_in_a_text_field_is_422_naming_it(
    api: Api, pg: asyncpg.Pool, world: World, field: str
) -> None:
    detail = await refused(api, pg, world, field, json={field: "a\u0000b"})
    assert "control characters" in detail


@pytest.mark.parametrize("faq", [{"q\u0000?": "answer"}, {"question?": "a\u0000"}])
async def test_nul_in_a_faq_question_or_answer_is_422(
    api: Api, pg: asyncpg.Pool, world: World, faq: dict[str, str]
) -> None:
    await refused(api, pg, world, "faq", json={"faq": faq})


@pytest.mark.parametrize("field", TEXT_FIELDS)
async def test_other_control_characters_are_refused_everywhere(
    api: Api, pg: asyncpg.Pool, world: World, field: str
) -> None:
    for control in ("\u0001", "\u001f", "\u007f", "\u0085", "\u009f", "\u000b"):
        await refused(api, pg, world, field, json={field: f"a{control}b"})


@pytest.mark.parametrize("field", ["agent_goal", "greeting_message", "business_services"])
async def test_long_texts_keep_tabs_and_line_breaks(
    api: Api, pg: asyncpg.Pool, world: World, field: str
) -> None:
    text = "Line one,\r\n\tline two.\n"
    await api.call("PATCH", ONE, path_id=world.a_agent, key=world.a.key, status=200, json={field: text})
    assert (await stored(pg, world.a_agent))[field] == text


@pytest.mark.parametrize("field", ["business_name", "business_website"])
async def test_one_line_fields_hold_no_line_break_or_tab(
    api: Api, pg: asyncpg.Pool, world: World, field: str
) -> None:
    for value in ("Acme\nPlumbing", "Acme\n", "Acme\tPlumbing", "Acme\r"):
        await refused(api, pg, world, field, json={field: value})


async def test_a_faq_question_is_one_line(api: Api, pg: asyncpg.Pool, world: World) -> None:
    for question in ("Open\non Sunday?", "Open on Sunday?\n", "\tOpen?"):
        await refused(api, pg, world, "faq", json={"faq": {question: "Yes."}})


# Finding 2: invalid UTF-8 (UnicodeDecodeError) and deep nesting (RecursionError) were 500s.


@pytest.mark.parametrize(
    "raw",
    [
        b'{"business_name": "Acme \xff"}',
        b'{"business_name": "Acme \xc3"}',
        b'{"faq": {"Open \xed\xa0\x80?": "Yes."}}',
        b'{"\xfe": 1}',
    ],
)
async def test_invalid_utf8_in_a_json_string_is_422(
    api: Api, pg: asyncpg.Pool, world: World, raw: bytes
) -> None:
    detail = await refused(api, pg, world, "Invalid request body", data=raw, headers=JSON)
    assert "UTF-8" in detail


@pytest.mark.parametrize("field", ["business_name", "faq", "voice"])
@pytest.mark.parametrize(("open_", "close"), [(b"[", b"]"), (b'{"a":', b"}")])
async def test_json_nested_1000_deep_is_422(
    api: Api, pg: asyncpg.Pool, world: World, field: str, open_: bytes, close: bytes
) -> None:
    raw = b'{"%s": %s1%s}' % (field.encode(), open_ * 1000, close * 1000)
    detail = await refused(api, pg, world, "Invalid request body", data=raw, headers=JSON)
    assert "nested too deeply" in detail


# Finding 3: a `since` whose UTC instant leaves Python's datetime range was a 500 ("date value out
# of range"). It is a valid RFC 3339 timestamp (openapi.json's date-time), so it bounds the list.


async def test_since_beyond_the_utc_range_bounds_the_list(api: Api, world: World) -> None:
    async def ids(since: str) -> list[int]:
        body = await api.call("GET", LIST, key=world.a.key, status=200, params={"since": since})
        return [item["id"] for item in body["conversations"]]

    assert await ids("0001-01-01T00:00:00+01:00") == [world.a_chat, world.a_call]
    assert await ids("0001-01-01T00:59:59.999999+23:59") == [world.a_chat, world.a_call]
    assert await ids("9999-12-31T23:59:59-01:00") == []
    assert await ids("9999-12-31T23:00:00-23:59") == []


# Finding 4: "null" meant absent, repeats were silently dropped, "1e2" and "2.0" were integers.


@pytest.mark.parametrize("name", ["before_id", "since", "channel", "agent_id", "limit"])
async def test_null_or_blank_parameter_is_422_naming_it(api: Api, world: World, name: str) -> None:
    for value in ("null", "None", "undefined", "", " "):
        body = await api.call("GET", LIST, key=world.a.key, status=422, params={name: value})
        assert body["detail"].startswith(f"{name}: must be"), value


async def test_repeated_parameter_is_422_naming_it(api: Api, world: World) -> None:
    for query, name in (
        ("limit=5&limit=6", "limit"),
        ("limit=5&limit=5", "limit"),
        ("before_id=1&channel=phone&before_id=2", "before_id"),
        ("channel=phone&channel=web_chat", "channel"),
        ("since=2026-06-09&since=2026-06-10", "since"),
        ("agent_id=1&agent_id=1", "agent_id"),
    ):
        params = [tuple(pair.split("=")) for pair in query.split("&")]
        body = await api.call("GET", LIST, key=world.a.key, status=422, params=params)
        assert body["detail"] == f"{name}: given more than once; send each parameter at most once"


@pytest.mark.parametrize("name", ["limit", "agent_id", "before_id"])
async def test_integer_parameter_takes_only_digits(api: Api, world: World, name: str) -> None:
    for value in ("1e2", "2.0", "5.", "+5", " 5", "5 ", "0x10", "1_0", "٣", "５", "true"):
        body = await api.call("GET", LIST, key=world.a.key, status=422, params={name: value})
        assert body["detail"].startswith(f"{name}: must be"), value


async def test_since_takes_only_rfc3339_or_a_date(api: Api, world: World) -> None:
    for since in (
        "1700000000", "1e9", "2026-06-09 14:03:00Z", "2026-06-09T14:03Z", "2026-06-09T14:03:00+0200",
        "٢٠٢٦-06-09", "2026-06-09T14:03:00Z\n", "2026-02-30",
    ):  # fmt: skip
        body = await api.call("GET", LIST, key=world.a.key, status=422, params={"since": since})
        assert body["detail"].startswith("since: must be an ISO-8601 timestamp"), since


@pytest.mark.parametrize("template", ["/api/v1/agents/{id}", "/api/v1/conversations/{id}"])
async def test_path_id_takes_only_our_canonical_digits(api: Api, world: World, template: str) -> None:
    own = world.a_agent if "agents" in template else world.a_call
    for raw_id in ("²", "٣", "１", "0{id}", "+{id}", "{id}.0", "{id}e0"):
        path_id = raw_id.format(id=own)
        body = await api.call("GET", template, path_id=path_id, key=world.a.key, status=404)
        assert body["detail"].endswith("not found."), path_id


# Finding 5: an invisible character alone counted as non-blank; `\S` in openapi.json admitted U+001F.


@pytest.mark.parametrize("field", REQUIRED)
async def test_invisible_only_required_field_is_blank(
    api: Api, pg: asyncpg.Pool, world: World, field: str
) -> None:
    for blank in INVISIBLE:
        detail = await refused(api, pg, world, field, json={field: blank})
        assert detail.startswith(f"{field}: required; a non-blank string")


@pytest.mark.parametrize("faq", [{"\u200b": "Yes."}, {"Open?": "\ufeff\u2060"}, {"\u001f": "Yes."}])
async def test_invisible_or_control_only_faq_entry_is_refused(
    api: Api, pg: asyncpg.Pool, world: World, faq: dict[str, str]
) -> None:
    await refused(api, pg, world, "faq", json={"faq": faq})


@pytest.mark.parametrize("value", ["\u200bAcme", "Acme\u00a0Plumbing", "Ünïcödé ✓", "😀", "Acme\u200d"])
async def test_visible_text_around_invisible_characters_is_kept(
    api: Api, pg: asyncpg.Pool, world: World, value: str
) -> None:
    payload = {"business_name": value, "faq": {value: value}}
    await api.call("PATCH", ONE, path_id=world.a_agent, key=world.a.key, status=200, json=payload)
    row = await stored(pg, world.a_agent)
    assert (row["business_name"], row["faq"]) == (value, {value: value})


def _server_accepts(payload: dict[str, Any]) -> bool:
    try:
        parse_agent_patch(msgspec.json.encode(payload))
    except InvalidInput:
        return False
    return True


def test_openapi_patch_schema_refuses_exactly_what_the_server_refuses() -> None:
    """jsonschema_rs reads `pattern` as ECMA-262 (as schema fuzzers and clients do), not as Python."""
    doc = build_openapi()
    validator = jsonschema_rs.validator_for({**doc["components"]["schemas"]["AgentPatch"], **doc})
    # Every control and Latin-1 character, the invisible ranges, the end of the BMP, astral samples.
    code_points = [*range(0x0300), *range(0x2000, 0x3200), *range(0xFD00, 0x10000), 0x1F600, 0xE0020]
    disagreements = []
    for char in map(chr, code_points):
        for text in (char, f"a{char}", f"{char}a"):
            for payload in ({name: text} for name in TEXT_FIELDS):
                if validator.is_valid(payload) != _server_accepts(payload):
                    disagreements.append(payload)
            faq = {"faq": {text: "Yes."}}, {"faq": {"Open?": text}}
            disagreements += [p for p in faq if validator.is_valid(p) != _server_accepts(p)]
    assert disagreements == []
