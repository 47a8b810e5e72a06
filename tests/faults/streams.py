"""A stream of queued events that is cut in the middle by a fault (a kill, a SIGTERM)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from arq.connections import ArqRedis

from shared.models import QueuedEvent
from shared.queue import enqueue_event


@dataclass(frozen=True)
class StreamShape:
    """The first `full_speed` events at `per_second`, then a trickle until the fault (so jobs keep
    arriving while the test looks for some in flight), and the last `held_back` only after it."""

    events: int
    full_speed: int
    per_second: int
    held_back: int
    trickle_s: float
    fault_within_s: float


class Producer:
    """Enqueues the stream in a task; remembers how far it had got when told of the fault."""

    def __init__(self, arq: ArqRedis, shape: StreamShape, event: Callable[[int], QueuedEvent]) -> None:
        self.arq = arq
        self.shape = shape
        self.event = event
        self.enqueued = 0
        self.faulted = asyncio.Event()

    async def _enqueue_next(self) -> None:
        await enqueue_event(self.arq, self.event(self.enqueued))
        self.enqueued += 1

    async def run(self) -> None:
        shape = self.shape
        while self.enqueued < shape.full_speed:
            await self._enqueue_next()
            await asyncio.sleep(1 / shape.per_second)
        while not self.faulted.is_set() and self.enqueued < shape.events - shape.held_back:
            await self._enqueue_next()
            await asyncio.sleep(shape.trickle_s)
        await asyncio.wait_for(self.faulted.wait(), shape.fault_within_s)
        while self.enqueued < shape.events:
            await self._enqueue_next()
            await asyncio.sleep(1 / shape.per_second)
