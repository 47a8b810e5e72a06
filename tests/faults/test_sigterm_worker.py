"""SIGTERM to a real worker holding jobs in the middle of a stream (issue #13, item 2): every
event ends stored exactly once, or dead-lettered exactly once, after a second worker drains the
rest; the SIGTERMed worker exits 0 within its bound.

Jobs are made certain to be in flight at the signal: the test locks the conversations table
(SHARE mode: reads go on, writes wait) once some rows are stored, so the worker's jobs wait on
their batch. Then either the lock is released within the shutdown bound ("finish": the worker
completes those jobs itself) or only after the worker has exited ("hand_back": arq cancels them
at the bound and puts them back on the queue, the worker drops the unwritten batch, and the second
worker re-runs them).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
from pathlib import Path

import asyncpg
import pytest

from services.worker.app import CLOSE_TIMEOUT_S
from shared.config import Settings
from shared.models import QueuedEvent
from shared.queue import create_arq_pool
from tests.faults.processes import count_rows, service_env, start_service, stop
from tests.faults.shutdown import SHUTDOWN_S, SLACK_S, sigterm_and_wait
from tests.faults.streams import Producer, StreamShape
from tests.helpers import eventually
from tests.worker.conftest import make_event

EVENTS = 500
DEAD_EVERY = 25  # every 25th event is for a number no agent has: it ends as a dead letter
FULL_SPEED = 200  # enqueued at PER_SECOND, then a trickle until the SIGTERM, then the rest
PER_SECOND = 200
TRICKLE_S = 0.05
HELD_BACK = 100  # enqueued only after the SIGTERM: the stream is certainly cut in the middle
STORED_BEFORE_LOCK = 50
IN_PROGRESS = "arq:in-progress:conv:*"
UNKNOWN_NUMBER = "+14155550999"
JOB_TIMEOUT_S = 20
CANCELLED = re.compile(r"(\d+) ongoing to cancel")
WAITING_ON_CONVERSATIONS = (
    "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'conversations'::regclass"
)


STREAM = StreamShape(
    events=EVENTS, full_speed=FULL_SPEED, per_second=PER_SECOND, held_back=HELD_BACK,
    trickle_s=TRICKLE_S, fault_within_s=60,
)  # fmt: skip


def term_event(n: int) -> QueuedEvent:
    """The n-th event of the stream; every DEAD_EVERY-th is for a number no agent has."""
    if n % DEAD_EVERY == 0:
        return make_event(f"term-{n:04d}", to_number=UNKNOWN_NUMBER)
    return make_event(f"term-{n:04d}")


class Observed:
    """What the test saw of the first worker."""

    held: list[bytes]
    stored_at_sigterm: int
    enqueued_at_sigterm: int
    stored_by_first: int
    exit_s: float


async def _sigterm_holding_jobs(
    worker: subprocess.Popen[bytes], producer: Producer, settings: Settings, resume: bool
) -> Observed:
    """Lock writes out, wait for jobs in flight, SIGTERM; release within the bound or after exit."""
    seen = Observed()
    lock = await asyncpg.connect(settings.database_url)
    try:

        async def stored_enough() -> bool:
            return await count_rows(settings.database_url, "conversations") >= STORED_BEFORE_LOCK

        await eventually(stored_enough, 60, f"{STORED_BEFORE_LOCK} conversations")
        locked = lock.transaction()
        await locked.start()
        await lock.execute("LOCK TABLE conversations IN SHARE MODE")
        # An in-progress key alone may be a job already committed (arq deletes it just after):
        # wait for a write truly blocked on the lock, so the worker holds work it has not done.
        await eventually(lambda: _writes_waiting(lock), 30, "a write waiting on the lock")
        seen.held = await eventually(lambda: producer.arq.keys(IN_PROGRESS), 30, "jobs in flight")
        seen.stored_at_sigterm = await count_rows(settings.database_url, "conversations")
        seen.enqueued_at_sigterm = producer.enqueued
        bound_s = SHUTDOWN_S + CLOSE_TIMEOUT_S + SLACK_S
        exiting = asyncio.create_task(sigterm_and_wait(worker, bound_s))
        producer.faulted.set()
        if resume:
            await asyncio.sleep(SHUTDOWN_S / 4)
            await locked.rollback()
        seen.exit_s = await exiting
        if not resume:
            await locked.rollback()
    finally:
        await lock.close()
    seen.stored_by_first = await count_rows(settings.database_url, "conversations")
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("writes", ["finish", "hand_back"])
async def test_sigtermed_worker_loses_and_doubles_nothing(
    settings: Settings, agent_id: int, pg: asyncpg.Pool, tmp_path: Path, writes: str
) -> None:
    env = service_env(
        settings,
        RINGREADY_SHUTDOWN_TIMEOUT_S=str(SHUTDOWN_S),
        # Jobs' own budget (this - 2 s) outlasts the bound: at the bound they are still running
        # and arq cancels them (with the test settings' 5 s they would time out and retry first).
        RINGREADY_JOB_TIMEOUT_S=str(JOB_TIMEOUT_S),
        RINGREADY_LOG_LEVEL="info",
    )
    arq = await create_arq_pool(settings)
    first = start_service("services.worker", env, tmp_path / "worker-1.log")
    second = None
    producer = Producer(arq, STREAM, term_event)
    producing = asyncio.create_task(producer.run())
    try:
        seen = await _sigterm_holding_jobs(first, producer, settings, resume=writes == "finish")
        second = start_service("services.worker", env, tmp_path / "worker-2.log")
        await producing
        await eventually(lambda: _all_handled(settings), 60, f"{EVENTS} events stored or dead-lettered")
    finally:
        producer.faulted.set()
        producing.cancel()
        with contextlib.suppress(BaseException):
            await producing
        for process in (first, second):
            if process is not None:
                stop(process)
        await arq.aclose()
    full_log = (tmp_path / "worker-1.log").read_text()
    log = full_log[-3000:]
    assert first.returncode == 0, log
    assert seen.held, "no job was in flight at SIGTERM"
    assert seen.enqueued_at_sigterm <= EVENTS - HELD_BACK  # mid-stream: the rest came afterwards
    if writes == "finish":  # the jobs in flight were completed and stored by the first worker
        assert seen.stored_by_first > seen.stored_at_sigterm, log
        assert seen.exit_s < SHUTDOWN_S, "the worker waited for the bound, not for its jobs"
    else:  # nothing could be written: the first worker handed its jobs back
        assert seen.stored_by_first == seen.stored_at_sigterm
        assert max(map(int, CANCELLED.findall(full_log)), default=0) > 0, log  # at the bound
        assert "shutdown_drain_timed_out" in full_log
    dead = EVENTS // DEAD_EVERY
    assert await count_rows(settings.database_url, "conversations") == EVENTS - dead
    assert await count_rows(settings.database_url, "conversation_details") == EVENTS - dead
    doubled = "SELECT provider_call_id FROM conversations GROUP BY 1 HAVING count(*) > 1"
    assert await pg.fetch(doubled) == []
    reasons = await pg.fetch("SELECT reason, count(*) AS n FROM dead_letters GROUP BY reason")
    assert [(row["reason"], row["n"]) for row in reasons] == [("no_agent", dead)]
    doubled = "SELECT provider_call_id FROM dead_letters GROUP BY 1 HAVING count(*) > 1"
    assert await pg.fetch(doubled) == []


async def _writes_waiting(lock: asyncpg.Connection) -> bool:
    return bool(await lock.fetchval(WAITING_ON_CONVERSATIONS))


async def _all_handled(settings: Settings) -> bool:
    stored = await count_rows(settings.database_url, "conversations")
    dead = await count_rows(settings.database_url, "dead_letters")
    return stored + dead >= EVENTS
