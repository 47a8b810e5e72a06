"""A worker SIGKILLed in the middle of a stream of 1,000 events: all 1,000 stored, once.

"In the middle" is made certain rather than left to timing: the producer holds the stream's
last events back until the worker is dead, and the kill happens only once rows are stored and,
checked while the worker is frozen (SIGSTOP), jobs are in flight. So on a slow or loaded machine
the test waits longer (within bounds) instead of failing or proving less.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest
from arq.connections import ArqRedis

from shared.config import Settings
from shared.models import QueuedEvent
from shared.queue import create_arq_pool
from tests.faults.processes import count_rows, service_env, start_service, stop
from tests.faults.streams import Producer, StreamShape
from tests.helpers import eventually
from tests.worker.conftest import make_event

EVENTS = 1000
PER_SECOND = 400
STORED_BEFORE_KILL = 200
# The producer streams the first FULL_SPEED events at PER_SECOND, then trickles until the kill
# (so jobs keep arriving while we look for some in flight), and enqueues the last HELD_BACK only
# after the kill: some events are always still to come when the worker dies.
FULL_SPEED = 800
HELD_BACK = 100
TRICKLE_S = 0.05
KILL_WITHIN_S = 40.0
IN_PROGRESS = "arq:in-progress:conv:*"


STREAM = StreamShape(
    events=EVENTS, full_speed=FULL_SPEED, per_second=PER_SECOND, held_back=HELD_BACK,
    trickle_s=TRICKLE_S, fault_within_s=KILL_WITHIN_S,
)  # fmt: skip


def kill_event(n: int) -> QueuedEvent:
    """The n-th event of the stream."""
    return make_event(f"kill-{n:04d}")


async def _stopped(pid: int) -> bool:
    """The kernel reports the process stopped (SIGSTOP took effect): it sends nothing more."""
    stat = await asyncio.to_thread(Path(f"/proc/{pid}/stat").read_text)
    return stat.rpartition(")")[2].split()[0] in ("T", "t")


async def _kill_mid_job(worker: subprocess.Popen[bytes], arq: ArqRedis, settings: Settings) -> list[bytes]:
    """SIGKILL the worker at a moment it holds jobs; returns their in-progress keys.

    The worker is frozen with SIGSTOP while we look, so what we see is what it holds when it
    dies: no job can finish between the check and the kill.
    """
    held: list[bytes] = []

    async def frozen_holding_jobs() -> bool:
        if await count_rows(settings.database_url, "conversations") < STORED_BEFORE_KILL:
            return False
        if not await arq.keys(IN_PROGRESS):  # cheap pre-check, without freezing the worker
            return False
        os.kill(worker.pid, signal.SIGSTOP)
        await eventually(lambda: _stopped(worker.pid), 10, "the worker to be stopped")
        held[:] = await arq.keys(IN_PROGRESS)
        if held:
            return True
        os.kill(worker.pid, signal.SIGCONT)
        return False

    await eventually(
        frozen_holding_jobs, KILL_WITHIN_S, f"the worker to hold jobs after {STORED_BEFORE_KILL} stored"
    )
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    return sorted(set(held) & set(await arq.keys(IN_PROGRESS)))  # held at death, outliving it


@pytest.mark.slow
async def test_sigkilled_worker_loses_nothing(settings: Settings, agent_id: int, tmp_path: Path) -> None:
    env = service_env(settings)
    arq = await create_arq_pool(settings)
    first = start_service("services.worker", env, tmp_path / "worker-1.log")
    second = None
    producer = Producer(arq, STREAM, kill_event)
    producing = asyncio.create_task(producer.run())
    try:
        in_flight = await _kill_mid_job(first, arq, settings)
        stored_at_kill = await count_rows(settings.database_url, "conversations")
        enqueued_at_kill = producer.enqueued
        producer.faulted.set()
        second = start_service("services.worker", env, tmp_path / "worker-2.log")
        await producing

        async def all_stored() -> bool:
            return await count_rows(settings.database_url, "conversations") >= EVENTS

        # Jobs the killed worker held come back after job_timeout_s + 10 s (15 s here).
        await eventually(all_stored, 60, f"{EVENTS} conversations")
        # A job the killed worker held but had already stored comes back only once its in-progress
        # key expires (15 s after it started), then runs (unchanged): all rows may be there first.
        await eventually(lambda: _queue_empty(arq, settings), 30, "the queue to drain")
    finally:
        producing.cancel()
        with contextlib.suppress(BaseException):
            await producing
        if first.poll() is None:  # failed while it was frozen: let it see the SIGTERM
            os.kill(first.pid, signal.SIGCONT)
        for process in (first, second):
            if process is not None:
                stop(process)
        await arq.aclose()
    assert STORED_BEFORE_KILL <= stored_at_kill < EVENTS
    assert enqueued_at_kill <= EVENTS - HELD_BACK  # killed mid-stream: the rest came afterwards
    assert in_flight  # the worker died holding jobs; their keys outlived it
    assert await count_rows(settings.database_url, "conversations") == EVENTS
    assert await count_rows(settings.database_url, "conversation_details") == EVENTS
    assert await count_rows(settings.database_url, "dead_letters") == 0


async def _queue_empty(arq: ArqRedis, settings: Settings) -> bool:
    queued = await arq.zrange(settings.queue_name, 0, -1)
    return not [job_id for job_id in queued if job_id.startswith(b"conv:")]  # the sweeper's cron job may wait
