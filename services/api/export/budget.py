"""The export's budget: rows per minute per account, shared by all its keys, exports and API
processes (a fixed one-minute window in Redis). An export that has used up the minute's rows
waits for the next minute (it is paced, not cut off); one that finds nothing left is refused
before it starts, with a 429 and Retry-After. With Redis unreachable, each process paces its own
exports at the same rate: slower than it could be, never unlimited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from services.api.typedefs import export_budget_key
from shared.redis_pipe import RedisPipe, pack_command
from shared.web import redis_key, settings_key

log = structlog.get_logger(__name__)

WINDOW_S = 60
_KEY = "ringready:export-rows:{account_id}:{window}"


class ExportBudget:
    """take() rows of an account's minute; waits (paced) or says how long to wait (refused)."""

    def __init__(self, redis: RedisPipe, rows_per_min: int) -> None:
        self._redis = redis
        self.rows_per_min = rows_per_min
        self._local: dict[tuple[int, int], int] = {}  # (account, window) -> rows, Redis away

    async def used(self, account_id: int, rows: int) -> int:
        """Add `rows` to the account's current minute; returns the minute's total so far."""
        window = int(time.time()) // WINDOW_S
        key = _KEY.format(account_id=account_id, window=window).encode()
        try:
            total = await self._redis.call(
                pack_command(
                    b"EVAL", _INCR_WITH_TTL, b"1", key, str(rows).encode(), str(WINDOW_S * 2).encode()
                )
            )
            return int(total)
        except (RedisError, OSError) as err:
            log.warning("export_budget_local", error=repr(err))
            self._local = {k: v for k, v in self._local.items() if k[1] == window}
            total = self._local.get((account_id, window), 0) + rows
            self._local[(account_id, window)] = total
            return total

    async def open(self, account_id: int) -> float:
        """0 if the account may start an export now, else the seconds until its next minute."""
        if await self.used(account_id, 0) < self.rows_per_min:
            return 0.0
        return seconds_to_next_window()

    async def take(self, account_id: int, rows: int) -> None:
        """Count rows about to be sent; past the minute's budget, count them in the next minute
        instead, once it has come (and so on, while the account's other exports use it up)."""
        while True:
            if await self.used(account_id, rows) <= self.rows_per_min:
                return
            await asyncio.sleep(seconds_to_next_window())


async def export_budget_ctx(app: web.Application) -> AsyncIterator[None]:
    """The process's ExportBudget, on the API's Redis pipe (opened by redis_pipe_ctx before it)."""
    app[export_budget_key] = ExportBudget(app[redis_key], app[settings_key].export_rows_per_min)
    yield


def seconds_to_next_window() -> float:
    return WINDOW_S - time.time() % WINDOW_S


_INCR_WITH_TTL = b"""
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if total == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return total
"""
