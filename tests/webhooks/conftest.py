"""Webhooks-out fixtures: an account listening on local receivers, a running worker (its dispatcher
included), and conversations stored the way the worker stores them."""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec
import pytest

from services.worker.app import worker_settings
from services.worker.store import write_batch
from shared.config import Settings
from shared.db.accounts import insert_account
from shared.db.agents import insert_agent
from shared.db.webhook_endpoints import insert_endpoint
from shared.queue import BatchClaimWorker
from shared.webhooks.signing import generate_secret
from tests.helpers import eventually
from tests.webhooks.receiver import Behaviour, Receiver, always
from tests.worker.conftest import AGENT_PHONE
from tests.worker.items import make_item


@dataclass(frozen=True)
class Endpoint:
    """An endpoint as the tests created it, with its secret."""

    id: int
    secret: str
    receiver: Receiver


@dataclass(frozen=True)
class Listener:
    """An account with one agent, that can add endpoints pointing at fresh local receivers."""

    account_id: int
    agent_id: int
    pg: asyncpg.Pool
    receivers: list[Receiver]

    async def endpoint(self, behaviour: Behaviour | None = None, **fields: Any) -> Endpoint:
        """A new endpoint on a new receiver."""
        receiver = Receiver(behaviour or always(200))
        await receiver.start()
        self.receivers.append(receiver)
        secret = generate_secret()
        row = await insert_endpoint(self.pg, self.account_id, url=receiver.url, secret=secret, **fields)
        return Endpoint(row["id"], secret, receiver)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Loopback http receivers allowed, a fast dispatcher, the retry schedule shrunk 1000 times."""
    return msgspec.structs.replace(
        settings,
        webhook_allow_http=True,
        webhook_allow_loopback=True,
        webhook_retry_scale=0.001,
        webhook_dispatch_interval_ms=20,
    )


@pytest.fixture
async def listener(pg: asyncpg.Pool) -> AsyncIterator[Listener]:
    """An account with an agent on AGENT_PHONE (what make_item's events route to)."""
    account_id = await insert_account(pg, "hooks@example.com", "growth")
    agent_id = await insert_agent(pg, account_id=account_id, phone_number=AGENT_PHONE, business_name="Acme")
    listening = Listener(account_id, agent_id, pg, [])
    yield listening
    for receiver in listening.receivers:
        await receiver.stop()


async def store(pg: asyncpg.Pool, call_id: str, **changes: Any) -> list[str]:
    """Store one conversation event as the worker's batch would; its outcome."""
    return list(await write_batch(pg, [await make_item(call_id, **changes)]))


async def store_many(pg: asyncpg.Pool, call_ids: Sequence[str]) -> None:
    """Store several conversations in one batch."""
    await write_batch(pg, [await make_item(call_id) for call_id in call_ids])


async def _idle(worker: BatchClaimWorker) -> bool:
    return all(task.done() for task in worker.tasks.values())


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, **overrides: Any) -> AsyncIterator[BatchClaimWorker]:
    """The real worker, polling (not burst), so its dispatcher runs; closed at the end of the block."""
    kwargs = worker_settings(settings) | {"poll_delay": 0.01, "handle_signals": False, "cron_jobs": []}
    worker = BatchClaimWorker(**(kwargs | overrides))
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        # Let running jobs end by themselves (a lane stops within LANE_BUDGET_S): arq's close()
        # cancels them, and a cancelled job makes close() raise before its shutdown hook runs.
        await eventually(lambda: _idle(worker), 15, "the worker's jobs to finish")
        with warnings.catch_warnings():
            # arq 0.28's close() calls redis-py's deprecated close(); nothing to fix on our side.
            warnings.simplefilter("ignore", DeprecationWarning)
            await worker.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task
