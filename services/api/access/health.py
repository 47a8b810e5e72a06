"""Whether the limiter should ask Redis: a small state machine with a backoff and one probe."""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable

import structlog

from shared.metrics.series import LIMITER_REDIS_STATE, set_state

log = structlog.get_logger(__name__)

BACKOFF_S = 1.0  # after a Redis failure, skip Redis this long so requests don't all wait the timeout
WARN_EVERY_S = 10.0  # at most one fallback warning per this interval (with a count)


class RedisState(enum.Enum):
    """HEALTHY: every batch goes to Redis. DEGRADED: none does until the backoff has passed.
    PROBING: one batch tests Redis; the others are decided in-process until it answers."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    PROBING = "probing"


_STATE_NAMES = tuple(state.value for state in RedisState)


class RedisHealth:
    """Moves between the states on the outcome of each Redis call, and logs the changes (throttled)."""

    def __init__(self, backoff_s: float = BACKOFF_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.state = RedisState.HEALTHY
        set_state(LIMITER_REDIS_STATE, _STATE_NAMES, self.state.value)
        self.failures = 0  # metric: Redis calls that timed out or errored
        self.backoff_s = backoff_s
        self.clock = clock
        self._retry_at = 0.0
        self._warned_at = -math.inf
        self._unwarned = 0
        self._announced = False  # a fallback warning went out; its "recovered" has not

    def _move(self, new: RedisState) -> None:
        """Every change of state, and only a change, goes through here: the gauge follows it. (A
        plain attribute, not a property: the limiter reads it several times per request.)"""
        if new is not self.state:
            self.state = new
            set_state(LIMITER_REDIS_STATE, _STATE_NAMES, new.value)

    def may_call(self) -> bool:
        """Healthy: always. Degraded: once the backoff has passed. Probing: not until the probe answers."""
        if self.state is RedisState.HEALTHY:
            return True
        return self.state is RedisState.DEGRADED and self.clock() >= self._retry_at

    def calling(self) -> bool:
        """A call goes to Redis now; True if it is the probe (sent while degraded)."""
        if self.state is RedisState.DEGRADED:
            self._move(RedisState.PROBING)
            return True
        return False

    def failed(self, error: BaseException, *, probe: bool, fallback_requests: int) -> None:
        """A call failed: degrade (unless the probe is still out) and back off."""
        self.failures += 1
        if probe or self.state is not RedisState.PROBING:
            self._move(RedisState.DEGRADED)
        now = self.clock()
        self._retry_at = now + self.backoff_s
        self._unwarned += 1
        if now - self._warned_at >= WARN_EVERY_S:
            log.warning(
                "rate_limiter_fallback",
                error=repr(error),
                failures_since_last_warning=self._unwarned,
                fallback_requests=fallback_requests,
            )
            self._warned_at, self._unwarned = now, 0
            self._announced = True

    def answered(self, *, fallback_requests: int) -> None:
        """A call succeeded: healthy again (one "recovered" per "fallback" warning)."""
        self._move(RedisState.HEALTHY)
        if self._announced:
            self._announced = False
            log.warning("rate_limiter_recovered", fallback_requests=fallback_requests)
