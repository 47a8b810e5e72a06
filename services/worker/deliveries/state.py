"""What a worker process holds for webhooks out: its HTTP client and the dispatcher's task."""

from __future__ import annotations

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

    async def close(self) -> None:
        """Stop the dispatcher, then close the HTTP client."""
        await self.resources.aclose()
        await self.session.close()


async def close_deliveries(ctx: dict[str, Any]) -> None:
    """The worker's shutdown: nothing new is dispatched once this returns."""
    deliveries: Deliveries | None = ctx.pop(DELIVERIES_CTX, None)
    if deliveries is not None:
        await deliveries.close()
