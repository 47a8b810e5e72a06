"""Fuzz fixtures: the real API and ingest processes on loopback, and a seeded account with its key."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from ops.embedded import free_port, port_open
from shared.config import Settings
from tests.api.factories import bulk_conversations, make_agent, make_conversation, make_key, make_tenant
from tests.faults.processes import service_env, start_service, stop
from tests.helpers import (
    TEST_ELEVENLABS_SECRET,
    TEST_RETELL_API_KEY,
    TEST_VAPI_HMAC_SECRET,
    TEST_VAPI_SECRET,
    eventually,
)

T0 = datetime(2026, 6, 9, 14, 3, tzinfo=UTC)
# High enough that the fuzzer never meets a 429: the limiter stays on (its headers are checked),
# it just never says no. Failed-auth probes count against 127.0.0.1's budget, hence the IP limit.
KEY_RATE_LIMIT_PER_MIN = 1_000_000
IP_RATE_LIMIT_PER_MIN = 1_000_000
TRANSCRIPT = [
    {"role": "agent", "content": "Thanks for calling Acme!", "elapsed_s": 0.0, "raw_role": "assistant"},
    {"role": "caller", "content": "Çà va? Free estimates? 🙂", "elapsed_s": 3.5, "raw_role": "user"},
]


@dataclass(frozen=True)
class FuzzWorld:
    """The account the fuzzer acts as: its read+write key and what it owns."""

    key: str
    agent_ids: tuple[int, ...]
    conversation_ids: tuple[int, ...]


async def _conversations(pg: asyncpg.Pool, account_id: int, agents: list[int]) -> list[int]:
    """A call, a chat and a bare conversation with every optional field empty."""
    call = await make_conversation(
        pg, account_id, agents[0], started_at=T0 - timedelta(hours=1), ended_at=T0 - timedelta(minutes=55),
        call_id="fuzz-call", from_number="+15550001111", to_number="+15551234567", caller_name="Pat",
        label="Booking", summary="Booked a visit.", transcript=TRANSCRIPT, recording_url="https://rec.example/a.mp3",
    )  # fmt: skip
    chat = await make_conversation(
        pg, account_id, agents[1], channel="web_chat", started_at=T0, ended_at=T0 + timedelta(seconds=251),
        call_id="fuzz-chat", caller_name="Sam", label="Demo Request", summary="Asked for a demo.",
        end_reason="visitor_ended", device_type="desktop", origin_url="https://acme.com/pricing",
        visitor_ip="203.0.113.7",
        transcript=[{"role": "visitor", "content": "hi", "elapsed_s": 1, "raw_role": "v"}],
    )  # fmt: skip
    bare = await make_conversation(
        pg, account_id, agents[2], started_at=T0 + timedelta(minutes=1), ended_at=T0 + timedelta(minutes=1),
        call_id="fuzz-bare",
    )  # fmt: skip
    return [call, chat, bare]


@pytest.fixture
async def fuzz_world(pg: asyncpg.Pool) -> FuzzWorld:
    """Account A (three agents, conversations of both channels, a page's worth more) and account B,
    whose rows share the id space so that its ids are 404 to A."""
    a = await make_tenant(pg, "fuzz-a@example.com", plan="growth")
    b = await make_tenant(pg, "fuzz-b@example.com", plan="pro")
    key, _ = await make_key(pg, a.account_id, ["read", "write"], rate_limit_per_min=KEY_RATE_LIMIT_PER_MIN)
    agents = [
        await make_agent(pg, a.account_id, "+15551234567", business_name="Acme Plumbing"),
        await make_agent(pg, a.account_id, "+15551234568", business_name="Acme Heating",
                         greeting_message="Hi!", business_website="https://acme.example"),
        await make_agent(pg, a.account_id, None, business_name="Acme Web"),
    ]  # fmt: skip
    b_agent = await make_agent(pg, b.account_id, "+15559990000", business_name="Bravo Dental")
    conversations = await _conversations(pg, a.account_id, agents)
    await make_conversation(
        pg, b.account_id, b_agent, started_at=T0, ended_at=T0 + timedelta(minutes=4), call_id="call-b"
    )
    await bulk_conversations(pg, a.account_id, agents, 60, T0 - timedelta(days=1), "fuzz-bulk")
    return FuzzWorld(key=key, agent_ids=tuple(agents), conversation_ids=tuple(conversations))


def fuzz_env(settings: Settings, **extra: str) -> dict[str, str]:
    """A service's environment: the test settings, every webhook secret, and the relaxed IP limit."""
    return service_env(
        settings,
        RINGREADY_VAPI_SECRETS=TEST_VAPI_SECRET,
        RINGREADY_VAPI_HMAC_SECRETS=TEST_VAPI_HMAC_SECRET,
        RINGREADY_RETELL_API_KEYS=TEST_RETELL_API_KEY,
        RINGREADY_ELEVENLABS_SECRETS=TEST_ELEVENLABS_SECRET,
        RINGREADY_IP_RATE_LIMIT_PER_MIN=str(IP_RATE_LIMIT_PER_MIN),
        **extra,
    )


async def _serve(module: str, env: dict[str, str], port: int, log_path: Path) -> AsyncIterator[str]:
    """Run `python -m module` until the test ends; yields its base URL once it listens."""
    process: subprocess.Popen[bytes] = start_service(module, env, log_path)
    try:

        async def listening() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"{module} exited with {process.returncode}; see {log_path}")
            return port_open("127.0.0.1", port)

        await eventually(listening, 30, f"{module} to listen on {port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture
async def api_url(settings: Settings, fuzz_world: FuzzWorld, tmp_path: Path) -> AsyncIterator[str]:
    """A real API process on a free loopback port, after the data is in."""
    port = free_port()
    env = fuzz_env(settings, RINGREADY_API_PORT=str(port))
    async for url in _serve("services.api", env, port, tmp_path / "api.log"):
        yield url


@pytest.fixture
async def ingest_url(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    """A real ingest process on a free loopback port."""
    port = free_port()
    env = fuzz_env(settings, RINGREADY_INGEST_PORT=str(port))
    async for url in _serve("services.ingest", env, port, tmp_path / "ingest.log"):
        yield url
