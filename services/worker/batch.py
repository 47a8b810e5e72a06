"""Per-process batcher: concurrent jobs share one transaction and one multi-row statement.

Each job submits its item and awaits its own future. A batch is written when it is full or
worker_batch_ms after its first item. A failing batch never takes good events down with it:
transient errors go back to every job (they retry), any other error splits the batch into
single writes so only the bad event fails.
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from services.worker.retries import is_transient
from services.worker.store import Item, Outcome, write_batch

log = structlog.get_logger(__name__)

Pending = list[tuple[Item, "asyncio.Future[Outcome]"]]


class Batcher:
    """Collects items for up to wait_s (or max_rows) and writes them in one transaction."""

    def __init__(self, pool: asyncpg.Pool, *, wait_s: float, max_rows: int, max_in_flight: int = 2) -> None:
        self._pool = pool
        self._wait_s = wait_s
        # wait_s = 0 turns batching off: every item is its own transaction, none waits.
        self._max_rows = max_rows if wait_s > 0 else 1
        self._max_in_flight = max_in_flight if wait_s > 0 else 1 << 30
        self._pending: Pending = []
        self._timer: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Outcome:
        """Queue one item and wait for its outcome (or its error)."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._wait_s <= 0 or len(self._pending) >= self._max_rows:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._wait_s, self._flush)
        return await future

    def _flush(self) -> None:
        """Start writes, at most max_in_flight at once (group commit).

        While writes are in flight, new items wait and join the next batch, so batches grow
        to match the commit latency under load instead of becoming many tiny commits.
        """
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._pending and len(self._writes) < self._max_in_flight:
            batch = self._pending[: self._max_rows]
            del self._pending[: self._max_rows]
            task = asyncio.create_task(self._write(batch))
            self._writes.add(task)
            task.add_done_callback(self._write_done)

    def _write_done(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        if self._pending and self._timer is None:
            self._flush()

    async def _write(self, batch: Pending) -> None:
        try:
            outcomes = await write_batch(self._pool, [item for item, _ in batch])
        except Exception as err:
            if is_transient(err) or len(batch) == 1:
                for _, future in batch:
                    _settle(future, err)
                return
            log.warning("batch_failed_writing_singly", size=len(batch), error=repr(err))
            for one in batch:
                await self._write([one])
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            _settle(future, outcome)

    async def drain(self) -> None:
        """Write what is pending and wait for writes in flight (worker shutdown)."""
        while self._pending or self._writes:
            self._flush()
            await asyncio.gather(*self._writes, return_exceptions=True)


def _settle(future: asyncio.Future[Outcome], result: Outcome | BaseException) -> None:
    """Resolve a job's future unless the job has already given up on it (cancelled)."""
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
