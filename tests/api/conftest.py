"""API fixtures: a running app, two tenants with agents and conversations, a validating caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from shared.config import Settings
from tests.api.contract import Api
from tests.api.factories import Tenant, make_agent, make_conversation, make_tenant

T0 = datetime(2026, 6, 9, 14, 3, tzinfo=UTC)
TRANSCRIPT = [
    {"role": "agent", "content": "Thanks for calling Acme!", "elapsed_s": 0.0, "raw_role": "assistant"},
    {"role": "caller", "content": "Do you do free estimates?", "elapsed_s": 3.5, "raw_role": "user"},
]


@dataclass(frozen=True)
class World:
    """Account A (two agents, a call and a chat) and account B (one agent, one call)."""

    a: Tenant
    b: Tenant
    a_agent: int
    a_agent2: int
    b_agent: int
    a_call: int
    a_chat: int
    b_call: int


@pytest.fixture
async def api(aiohttp_client, settings: Settings) -> Api:  # type: ignore[no-untyped-def]
    """The API app behind a validating caller."""
    client: TestClient = await aiohttp_client(create_app(settings))
    return Api(client)


async def _populate(pg: asyncpg.Pool) -> World:
    a = await make_tenant(pg, "a@example.com", plan="growth")
    b = await make_tenant(pg, "b@example.com", plan="pro")
    a_agent = await make_agent(pg, a.account_id, "+15551234567", business_name="Acme Plumbing")
    a_agent2 = await make_agent(pg, a.account_id, "+15551234568", business_name="Acme Heating")
    b_agent = await make_agent(pg, b.account_id, "+15559990000", business_name="Bravo Dental")
    a_call = await make_conversation(
        pg, a.account_id, a_agent, started_at=T0 - timedelta(hours=1), ended_at=T0 - timedelta(minutes=55),
        call_id="call-a", from_number="+15550001111", to_number="+15551234567", caller_name="Pat",
        label="Booking", summary="Booked a visit.", transcript=TRANSCRIPT, recording_url="https://rec.example/a.mp3",
    )  # fmt: skip
    a_chat = await make_conversation(
        pg, a.account_id, a_agent, channel="web_chat", started_at=T0, ended_at=T0 + timedelta(seconds=251),
        call_id="chat-a", caller_name="Sam", label="Demo Request",
        summary="Visitor asked for a demo and pricing.", end_reason="visitor_ended", device_type="desktop",
        origin_url="https://acme.com/pricing", visitor_ip="203.0.113.7",
        transcript=[{"role": "visitor", "content": "hi", "elapsed_s": 1, "raw_role": "v"}],
    )  # fmt: skip
    b_call = await make_conversation(
        pg, b.account_id, b_agent, started_at=T0 + timedelta(minutes=5), ended_at=T0 + timedelta(minutes=9),
        call_id="call-b", from_number="+15550002222", to_number="+15559990000", transcript=TRANSCRIPT,
    )  # fmt: skip
    return World(a, b, a_agent, a_agent2, b_agent, a_call, a_chat, b_call)


@pytest.fixture
async def world(pg: asyncpg.Pool) -> World:
    """Two accounts' data, freshly inserted."""
    return await _populate(pg)
