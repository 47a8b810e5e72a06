"""What a worker process holds for webhooks out: its HTTP client and the dispatcher's task."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg

from shared.config import Settings

DELIVERIES_CTX = "webhook_deliveries"


@dataclass
class Deliveries:
    """Shared by the dispatcher and every deliver_webhook job of one worker process."""

    settings: Settings
    pool: asyncpg.Pool
    session: aiohttp.ClientSession
    resources: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    # Set when this process stored a conversation (its events may be waiting): the dispatcher's next
    # pass starts now instead of at the end of its interval.
    due: asyncio.Event = field(default_factory=asyncio.Event)

    async def close(self) -> None:
        """Stop the dispatcher, then close the HTTP client."""
        await self.resources.aclose()
        await self.session.close()


def wake_dispatcher(ctx: dict[str, Any]) -> None:
    """A job stored a conversation: its outbox events go out on the dispatcher's next pass, now."""
    deliveries: Deliveries | None = ctx.get(DELIVERIES_CTX)
    if deliveries is not None:
        deliveries.due.set()


async def close_deliveries(ctx: dict[str, Any]) -> None:
    """The worker's shutdown: nothing new is dispatched once this returns."""
    deliveries: Deliveries | None = ctx.pop(DELIVERIES_CTX, None)
    if deliveries is not None:
        await deliveries.close()
