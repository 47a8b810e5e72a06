"""Webhooks out survive a SIGKILLed worker and a Valkey restart in the same run: conversations keep
flowing in while the worker that stores them and delivers their events is killed, and then while
the queue's Valkey is killed and started again on the same port; after a second worker takes over,
every conversation's event has reached the receiver (at least once, the same webhook-id on a copy)
and the log shows each delivery succeeded. Nothing is missing (docs/webhooks.md, "exactly once")."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path

import asyncpg
import pytest
import redis.exceptions
from arq.connections import ArqRedis

from shared.config import Settings
from shared.db.webhook_endpoints import insert_endpoint
from shared.queue import create_arq_pool, enqueue_event
from shared.webhooks.signing import generate_secret
from tests.faults.processes import service_env, start_service, stop
from tests.helpers import Servers, eventually
from tests.webhooks.receiver import Receiver
from tests.worker.conftest import make_event

CONVERSATIONS = 1000
KILL_AFTER = 100  # deliveries received before the kill
# The queue's Valkey is killed (SIGKILL, its AOF fsyncs every write) after this many conversations
# and started again on the same port this many later; the conversations sent meanwhile are refused
# and sent again once it is back, as a provider retries a webhook our ingest refused.
VALKEY_DOWN_AT, VALKEY_UP_AT = 500, 600
# A killed worker's leases expire after 56 s (services/worker/deliveries/job.py LEASE_S), its store
# jobs come back after job_timeout_s + 10 s: the bound covers both on a loaded machine.
RECOVER_WITHIN_S = 120


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_sigkilled_worker_and_restarted_valkey_lose_no_webhook(
    servers: Servers, settings: Settings, pg: asyncpg.Pool, agent_id: int, tmp_path: Path
) -> None:
    if servers.redis is None:
        pytest.skip("needs the embedded Valkey to restart it")
    receiver = Receiver()
    await receiver.start()
    account_id = await pg.fetchval("SELECT account_id FROM agents WHERE id = $1", agent_id)
    await insert_endpoint(pg, account_id, url=receiver.url, secret=generate_secret())
    env = service_env(
        settings,
        RINGREADY_WEBHOOK_ALLOW_HTTP="true",
        RINGREADY_WEBHOOK_ALLOW_LOOPBACK="true",
        RINGREADY_WEBHOOK_DISPATCH_INTERVAL_MS="20",
        RINGREADY_WORKER_METRICS_PORT="0",
    )
    arq = await create_arq_pool(settings)
    first = start_service("services.worker", env, tmp_path / "worker-1.log")
    second = None
    delivered_at_kill = -1
    refused: list[str] = []
    try:
        for n in range(CONVERSATIONS):  # a steady stream, still flowing when the kill comes
            if n == VALKEY_DOWN_AT:
                servers.redis.kill()
            if n == VALKEY_UP_AT:
                servers.redis.start()
            if not await _enqueued(arq, f"hook-{n:04d}"):
                refused.append(f"hook-{n:04d}")
            if n == KILL_AFTER * 2:
                await eventually(lambda: _received(receiver, KILL_AFTER), 60, f"{KILL_AFTER} deliveries")
                os.kill(first.pid, signal.SIGKILL)
                first.wait(10)
                delivered_at_kill = len(receiver.received)
                second = start_service("services.worker", env, tmp_path / "worker-2.log")
            await asyncio.sleep(0.005)
        for call_id in refused:  # sent again now that the queue is back
            await eventually(lambda: _enqueued(arq, call_id), 30, f"{call_id} accepted again")  # noqa: B023
        await eventually(
            lambda: _all_delivered(pg),
            RECOVER_WITHIN_S,
            lambda: f"every delivery succeeded ({receiver_ids(receiver)})",
        )
    finally:
        for process in (first, second):
            if process is not None:
                stop(process)
        await arq.aclose()
        await receiver.stop()
    assert KILL_AFTER <= delivered_at_kill < CONVERSATIONS  # killed mid-stream, not before or after
    assert refused  # the Valkey outage was real: the queue refused while it was away
    ids = Counter(r.headers["webhook-id"] for r in receiver.received)
    print(f"copies received: {sum(ids.values()) - len(ids)}, refused while Valkey was away: {len(refused)}")
    events = {row["event_id"] for row in await pg.fetch("SELECT event_id FROM webhook_events")}
    assert len(events) == CONVERSATIONS  # one event per conversation, none doubled by the re-run
    assert set(ids) == events  # nothing missing, nothing unknown; copies (ids[x] > 1) are allowed


async def _enqueued(arq: ArqRedis, call_id: str) -> bool:
    """Queued; False while Valkey is away (redis-py reconnects on the next command once it is back)."""
    try:
        await enqueue_event(arq, make_event(call_id))
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
        return False
    return True


def receiver_ids(receiver: Receiver) -> str:
    return f"{len({r.headers['webhook-id'] for r in receiver.received})} distinct ids received"


async def _received(receiver: Receiver, n: int) -> bool:
    return len(receiver.received) >= n


async def _all_delivered(pg: asyncpg.Pool) -> bool:
    done: bool = await pg.fetchval(
        "SELECT count(*) = $1 AND bool_and(status = 'succeeded') FROM webhook_deliveries", CONVERSATIONS
    )
    return bool(done)
