"""The in-process sliding-window log used while Redis is slow or down: window.lua's math, per process."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

# (allowed 0/1, remaining, retry_after_us, t_us, now_epoch_us): what window.lua returns per request.
Outcome = tuple[int, int, int, int, int]
MAX_KEYS = 100_000  # bounds memory during a long outage; beyond it idle buckets are dropped


def _monotonic_us() -> int:
    return time.monotonic_ns() // 1000


def _epoch_us() -> int:
    return time.time_ns() // 1000


class LocalWindow:
    """Admission stamps per limiter key (the last window's), in microseconds of the monotonic clock."""

    def __init__(
        self,
        clock_us: Callable[[], int] = _monotonic_us,
        epoch_us: Callable[[], int] = _epoch_us,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.clock_us = clock_us
        self.epoch_us = epoch_us
        self.max_keys = max_keys
        self._logs: dict[str, deque[int]] = {}

    def hit(self, key: str, limit: int, window_us: int) -> Outcome:
        """Admit or deny one request, exactly as the Redis script would."""
        now = self.clock_us()
        log = self._logs.get(key)
        if log is None:
            if len(self._logs) >= self.max_keys:
                self._prune(now, window_us)
            log = self._logs[key] = deque()
        while log and log[0] <= now - window_us:  # left the window
            log.popleft()
        admitted = len(log) < limit
        if admitted:
            log.append(max(now, log[-1] + 1) if log else now)  # unique, increasing stamps
        held = log[max(0, len(log) - limit)] if log else now - window_us
        t = held + window_us - now
        if admitted:
            return 1, limit - len(log), 0, t, self.epoch_us()
        return 0, 0, t, t, self.epoch_us()

    def _prune(self, now: int, window_us: int) -> None:
        """Forget empty logs (they equal absent ones); if none are empty, forget everything."""
        self._logs = {key: log for key, log in self._logs.items() if log and log[-1] > now - window_us}
        if len(self._logs) >= self.max_keys:
            self._logs.clear()

    def __len__(self) -> int:
        return len(self._logs)
