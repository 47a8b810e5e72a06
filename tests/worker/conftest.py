"""Worker test helpers: events built directly (no ingest), a burst worker, an agent to route to."""

from __future__ import annotations

import signal
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from arq.connections import ArqRedis

from ops.embedded import ManagedServer
from services.worker.app import worker_settings
from shared.config import Settings
from shared.db.accounts import insert_account
from shared.db.agents import add_provider_id, insert_agent
from shared.models import FinishedConversation, QueuedEvent, Turn
from shared.queue import BatchClaimWorker, create_arq_pool

AGENT_PHONE = "+14155550100"
CALLER_PHONE = "+14155550199"
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
TRANSCRIPT = [
    Turn(
        role="agent",
        content="Thanks for calling Bright Smiles, how can I help?",
        elapsed_s=0.5,
        raw_role="agent",
    ),
    Turn(role="caller", content="Hi, my name is Dana Lee.", elapsed_s=3.0, raw_role="user"),
    Turn(
        role="caller",
        content="I'd like to book an appointment for a cleaning.",
        elapsed_s=5.2,
        raw_role="user",
    ),
    Turn(role="agent", content="You're all set for Tuesday at 3.", elapsed_s=9.0, raw_role="bot"),
]


@dataclass
class Agent:
    """An agent the tests route to."""

    id: int
    account_id: int


def make_event(call_id: str = "call-1", **changes: Any) -> QueuedEvent:
    """A native phone call event; keyword arguments override conversation fields."""
    raw_body = changes.pop("raw_body", f'{{"call_id": "{call_id}"}}'.encode())
    fields: dict[str, Any] = {
        "source": "phone",
        "provider_call_id": call_id,
        "channel": "phone",
        "event_type": "call.finished",
        "event_rank": 1,
        "event_at": T0 + timedelta(minutes=3),
        "started_at": T0,
        "ended_at": T0 + timedelta(seconds=154.6),
        "transcript": TRANSCRIPT,
        "from_number": CALLER_PHONE,
        "to_number": AGENT_PHONE,
        "end_reason_raw": "customer-ended-call",
    }
    fields.update(changes)
    conversation = FinishedConversation(**fields)
    return QueuedEvent(conversation=conversation, raw_body=raw_body, received_at=T0 + timedelta(minutes=4))


@pytest.fixture
async def agent(pg: asyncpg.Pool) -> Agent:
    """An account with one agent on AGENT_PHONE, also routed as retell assistant `agent_retell_1`."""
    account_id = await insert_account(pg, "owner@example.com", "growth")
    agent_id = await insert_agent(
        pg, account_id=account_id, phone_number=AGENT_PHONE, business_name="Bright Smiles"
    )
    await add_provider_id(pg, agent_id, "retell", "agent_retell_1")
    return Agent(agent_id, account_id)


@pytest.fixture
async def arq_pool(settings: Settings) -> AsyncIterator[ArqRedis]:
    """The producer side of the queue, as ingest uses it."""
    pool = await create_arq_pool(settings)
    yield pool
    await pool.aclose()


def stop_postgres_fast(server: ManagedServer) -> None:
    """Postgres "fast" shutdown (SIGINT): clients are cut off, committed data is kept.

    The test cluster runs with synchronous_commit off, so a SIGKILL could lose the last
    commits - a loss of the test setup's making, not the worker's.
    """
    process = server.process
    assert process is not None
    process.send_signal(signal.SIGINT)
    process.wait(30)


def burst_worker(settings: Settings, **overrides: Any) -> BatchClaimWorker:
    """The real worker, in burst mode: drains the queue, then returns."""
    kwargs = worker_settings(settings) | {
        "burst": True,
        "poll_delay": 0.01,
        "handle_signals": False,
        "cron_jobs": [],
    }
    return BatchClaimWorker(**(kwargs | overrides))


async def drain(settings: Settings, **overrides: Any) -> BatchClaimWorker:
    """Run a burst worker to the end; returns it for its counters."""
    worker = burst_worker(settings, **overrides)
    try:
        await worker.async_run()
    finally:
        with warnings.catch_warnings():
            # arq 0.28's close() calls redis-py's deprecated close(); nothing to fix on our side.
            warnings.simplefilter("ignore", DeprecationWarning)
            await worker.close()
    return worker
