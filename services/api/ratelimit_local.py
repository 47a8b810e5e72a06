"""The in-process GCRA used while Redis is slow or down: the same math as gcra.lua, per process."""

from __future__ import annotations

import time
from collections.abc import Callable

# (allowed 0/1, remaining, retry_after_us, reset_after_us, now_epoch_us): what gcra.lua returns.
Outcome = tuple[int, int, int, int, int]
MAX_KEYS = 100_000  # bounds memory during a long outage; beyond it idle buckets are dropped


def _monotonic_us() -> int:
    return time.monotonic_ns() // 1000


def _epoch_us() -> int:
    return time.time_ns() // 1000


class LocalGcra:
    """Theoretical arrival times per limiter key, in microseconds of the monotonic clock."""

    def __init__(
        self,
        clock_us: Callable[[], int] = _monotonic_us,
        epoch_us: Callable[[], int] = _epoch_us,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.clock_us = clock_us
        self.epoch_us = epoch_us
        self.max_keys = max_keys
        self._tat: dict[str, int] = {}

    def hit(self, key: str, burst: int, interval_us: int) -> Outcome:
        """Admit or deny one request, exactly as the Redis script would."""
        now = self.clock_us()
        tat = max(self._tat.get(key, now), now)
        new_tat = tat + interval_us
        diff = now - (new_tat - burst * interval_us)
        if diff < 0:
            return 0, 0, -diff, tat - now, self.epoch_us()
        if key not in self._tat and len(self._tat) >= self.max_keys:
            self._prune(now)
        self._tat[key] = new_tat
        return 1, diff // interval_us, 0, new_tat - now, self.epoch_us()

    def _prune(self, now: int) -> None:
        """Forget full buckets (they equal absent ones); if none are full, forget everything."""
        self._tat = {key: tat for key, tat in self._tat.items() if tat > now}
        if len(self._tat) >= self.max_keys:
            self._tat.clear()

    def __len__(self) -> int:
        return len(self._tat)
