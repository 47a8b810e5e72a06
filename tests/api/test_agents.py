"""GET /api/v1/agents, GET and PATCH /api/v1/agents/{id}: shapes, every writable field's bounds."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
import pytest

from shared.config import Settings
from tests.api.conftest import World
from tests.api.contract import Api

LIST = "/api/v1/agents"
ONE = "/api/v1/agents/{id}"
LIMITS = {
    "agent_goal": 10_000,
    "greeting_message": 500,
    "business_name": 100,
    "business_services": 30_000,
    "business_website": 400,
}
REQUIRED = ("agent_goal", "business_name", "business_services")
SEED_AGENT_SQL = """
UPDATE agents SET greeting_message = 'Thanks for calling Acme — how can I help?',
    agent_goal = 'Qualify leads and book consultations.', business_website = 'https://acme.com',
    business_services = 'Emergency plumbing, water heaters, drain cleaning.',
    faq = '{"Do you offer emergency service?": "Yes, 24/7.",
            "Do you give free estimates?": "Yes, on every job."}',
    appointment_booking = '{"sms_enabled": true, "sms_url": "https://book.acme.com",
                            "sms_purpose": "booking"}',
    created_at = '2026-01-12T09:30:00Z'
WHERE id = $1
"""


async def stored(pg: asyncpg.Pool, agent_id: int) -> dict[str, Any]:
    row = await pg.fetchrow("SELECT * FROM agents WHERE id = $1", agent_id)
    assert row is not None
    return dict(row)


async def test_list_has_the_seed_fields(api: Api, pg: asyncpg.Pool, world: World) -> None:
    await pg.execute(SEED_AGENT_SQL, world.a_agent)
    body = await api.call("GET", LIST, key=world.a.key, status=200)
    assert body["agents"][0] == {
        "id": world.a_agent, "phone_number": "+15551234567", "agent_name": "Ava",
        "business_name": "Acme Plumbing", "subscription_type": "growth", "created_at": "2026-01-12T09:30:00Z",
    }  # fmt: skip
    assert [a["id"] for a in body["agents"]] == [world.a_agent, world.a_agent2]


async def test_detail_matches_the_seed_example(api: Api, pg: asyncpg.Pool, world: World) -> None:
    await pg.execute(SEED_AGENT_SQL, world.a_agent)
    body = await api.call("GET", ONE, path_id=world.a_agent, key=world.a.key, status=200)
    assert body == {
        "id": world.a_agent, "phone_number": "+15551234567", "subscription_type": "growth",
        "agent_name": "Ava", "voice": "friendly",
        "greeting_message": "Thanks for calling Acme — how can I help?",
        "agent_goal": "Qualify leads and book consultations.",
        "business_name": "Acme Plumbing", "business_website": "https://acme.com",
        "business_services": "Emergency plumbing, water heaters, drain cleaning.",
        "faq": {"Do you offer emergency service?": "Yes, 24/7.",
                "Do you give free estimates?": "Yes, on every job."},
        "appointment_booking": {"sms_enabled": True, "sms_url": "https://book.acme.com",
                                "sms_purpose": "booking"},
        "features": {"web_chat_enabled": True, "live_context_enabled": False,
                     "webhook_enabled": False, "webhook_url": None},
        "is_suspended": False, "created_at": "2026-01-12T09:30:00Z",
    }  # fmt: skip
    assert list(body)[:4] == ["id", "phone_number", "subscription_type", "agent_name"]


async def test_patch_seed_example_updates_in_order_sent(api: Api, pg: asyncpg.Pool, world: World) -> None:
    faq = {"Do you offer free estimates?": "Yes — free.", "What are your hours?": "24/7."}
    payload = {"agent_goal": "Qualify, then book.", "greeting_message": "Hi!", "faq": faq}
    body = await api.call("PATCH", ONE, path_id=world.a_agent, key=world.a.key, status=200, json=payload)
    assert body == {"id": world.a_agent, "updated": ["agent_goal", "greeting_message", "faq"]}
    reordered = {"faq": faq, "business_name": "Acme Co"}
    body = await api.call("PATCH", ONE, path_id=world.a_agent, key=world.a.key, status=200, json=reordered)
    assert body["updated"] == ["faq", "business_name"]
    row = await stored(pg, world.a_agent)
    assert (row["agent_goal"], row["greeting_message"], row["faq"], row["business_name"]) == (
        "Qualify, then book.", "Hi!", faq, "Acme Co",
    )  # fmt: skip
    assert row["business_services"] == "General enquiries."  # not sent, not changed


@pytest.mark.parametrize("field", list(LIMITS))
async def test_each_text_field_at_its_max_and_one_over(
    api: Api, pg: asyncpg.Pool, world: World, field: str
) -> None:
    at_max = "x" * LIMITS[field]
    await api.call("PATCH", ONE, path_id=world.a_agent, key=world.a.key, status=200, json={field: at_max})
    assert (await stored(pg, world.a_agent))[field] == at_max
    body = await api.call(
        "PATCH", ONE, path_id=world.a_agent, key=world.a.key, status=422, json={field: at_max + "y"}
    )
    assert body["detail"].startswith(f"{field}: ")
    assert f"{LIMITS[field]:,} characters" in body["detail"]
    assert (await stored(pg, world.a_agent))[field] == at_max


@pytest.mark.parametrize("field", REQUIRED)
@pytest.mark.parametrize("blank", ["", "   ", "\n\t", None])
async def test_required_fields_cannot_be_blanked(
    api: Api, pg: asyncpg.Pool, world: World, field: str, blank: str | None
) -> None:
    before = await stored(pg, world.a_agent)
    body = await api.call(
        "PATCH", ONE, path_id=world.a_agent, key=world.a.key, status=422, json={field: blank}
    )
    assert body["detail"].startswith(f"{field}: required")
    assert await stored(pg, world.a_agent) == before


@pytest.mark.parametrize("field", ["greeting_message", "business_website"])
async def test_optional_fields_clear_with_null(api: Api, pg: asyncpg.Pool, world: World, field: str) -> None:
    await api.call("PATCH", ONE, path_id=world.a_agent, key=world.a.key, status=200, json={field: "set"})
    body = await api.call(
        "PATCH", ONE, path_id=world.a_agent, key=world.a.key, status=200, json={field: None}
    )
    assert body["updated"] == [field]
    assert (await stored(pg, world.a_agent))[field] is None


def faq_of(n: int, q_len: int = 20, a_len: int = 20) -> dict[str, str]:
    return {f"{i:04d}".ljust(q_len, "q"): "a" * a_len for i in range(n)}


@pytest.mark.parametrize(
    ("faq", "status"),
    [
        (faq_of(50), 200),
        (faq_of(51), 422),
        (faq_of(1, q_len=200), 200),
        (faq_of(1, q_len=201), 422),
        (faq_of(1, a_len=500), 200),
        (faq_of(1, a_len=501), 422),
        ({}, 200),
        ({"  ": "answer"}, 422),
        ({"question?": ""}, 422),
        (None, 422),
        (["not", "a", "map"], 422),
    ],
)
async def test_faq_bounds(api: Api, pg: asyncpg.Pool, world: World, faq: Any, status: int) -> None:
    body = await api.call(
        "PATCH", ONE, path_id=world.a_agent, key=world.a.key, status=status, json={"faq": faq}
    )
    row = await stored(pg, world.a_agent)
    if status == 200:
        assert body == {"id": world.a_agent, "updated": ["faq"]} and row["faq"] == faq
    else:
        assert body["detail"].startswith("faq: an object of at most 50")
        assert row["faq"] == {}


@pytest.mark.parametrize(
    "field", ["voice", "agent_name", "features", "webhook_url", "is_suspended", "id", "nope"]
)
async def test_other_fields_are_refused_by_name(api: Api, pg: asyncpg.Pool, world: World, field: str) -> None:
    before = await stored(pg, world.a_agent)
    payload = {"business_name": "Changed", field: "x"}
    body = await api.call("PATCH", ONE, path_id=world.a_agent, key=world.a.key, status=422, json=payload)
    assert body["detail"].startswith(f"{field}: is not writable through the API")
    assert await stored(pg, world.a_agent) == before


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"[1, 2]", "body: must be a JSON object of the fields to change"),
        (b"{not json", "body: is not valid JSON"),
        (b"", "body: is not valid JSON"),
        (b'"text"', "body: must be a JSON object of the fields to change"),
    ],
)
async def test_malformed_bodies_are_422(api: Api, world: World, raw: bytes, detail: str) -> None:
    headers = {"Content-Type": "application/json"}
    body = await api.call(
        "PATCH", ONE, path_id=world.a_agent, key=world.a.key, status=422, data=raw, headers=headers
    )
    assert body == {"detail": detail}


async def test_empty_patch_changes_nothing(api: Api, world: World) -> None:
    body = await api.call("PATCH", ONE, path_id=world.a_agent, key=world.a.key, status=200, json={})
    assert body == {"id": world.a_agent, "updated": []}


async def test_oversized_body_is_413(
    aiohttp_client, settings: Settings, pg: asyncpg.Pool, world: World
) -> None:  # type: ignore[no-untyped-def]
    from services.api.app import create_app

    small = msgspec.structs.replace(settings, max_body_bytes=1024)
    api = Api(await aiohttp_client(create_app(small)))
    before = await stored(pg, world.a_agent)
    body = await api.call(
        "PATCH",
        ONE,
        path_id=world.a_agent,
        key=world.a.key,
        status=413,
        json={"business_services": "x" * 2000},
    )
    assert body == {"detail": "Request body too large"}
    assert await stored(pg, world.a_agent) == before


async def test_patch_needs_the_write_scope(api: Api, pg: asyncpg.Pool, world: World) -> None:
    before = await stored(pg, world.a_agent)
    body = await api.call(
        "PATCH", ONE, path_id=world.a_agent, key=world.a.read_key, status=403, json={"business_name": "Nope"}
    )
    assert body == {"detail": "This API key lacks the 'write' scope."}
    assert await stored(pg, world.a_agent) == before
    body = await api.call("GET", LIST, key=world.a.write_only_key, status=403)
    assert body == {"detail": "This API key lacks the 'read' scope."}


@pytest.mark.parametrize("bad_id", ["0", "x", str(2**63), "424242"])
async def test_missing_agent_is_404(api: Api, world: World, bad_id: str) -> None:
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"business_name": "x"}})):
        body = await api.call(method, ONE, path_id=bad_id, key=world.a.key, status=404, **kwargs)
        assert body == {"detail": "Agent not found."}
