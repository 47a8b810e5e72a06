"""Per-key and per-IP request budgets: a sliding-window log in one Redis script, an in-process
fallback if Redis fails.

Semantics (docs/rate-limits.md): a limit of L per minute admits at most L requests in any 60 s,
exactly what `RateLimit-Policy: q=L;w=60` says. Denied requests consume nothing. One EVALSHA
returns everything the response headers need; the hits of one bucket that arrive within one
event-loop tick share that EVALSHA (the script decides them one after the other, exactly as
separate calls would).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
import time
from pathlib import Path
from typing import Literal, Protocol

import msgspec
import structlog
from redis.exceptions import RedisError

from services.api.ratelimit_local import LocalWindow, Outcome
from shared.config import Settings
from shared.redis_pipe import RedisPipe, pack_command

log = structlog.get_logger(__name__)

PERIOD_S = 60  # every limit is "requests per minute": at most L in any 60 s
KEY_POLICY = "default"  # RateLimit-Policy name for API keys
IP_POLICY = "ip"  # ... and for requests without a valid key
BACKOFF_S = 1.0  # after a Redis failure, skip Redis this long so requests don't all wait the timeout
WARN_EVERY_S = 10.0  # at most one fallback warning per this interval (with a count)
EARLY_MARGIN_SHARE = 10  # reads start early only while more than limit/this of the budget is left
MAX_SPARE_KEYS = 100_000  # keys whose spare budget is remembered; beyond it all are forgotten
WINDOW_SCRIPT = (Path(__file__).parent / "window.lua").read_bytes()
WINDOW_SHA = hashlib.sha1(WINDOW_SCRIPT, usedforsecurity=False).hexdigest().encode()
PING = pack_command(b"PING")


class LimitedKey(Protocol):
    """What the limiter needs to know about an authenticated key (ApiKeyInfo has it)."""

    @property
    def key_id(self) -> int: ...
    @property
    def plan(self) -> str: ...
    @property
    def rate_limit_per_min(self) -> int | None: ...


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """The limiter's verdict on one request and the bucket's state after it."""

    allowed: bool
    limit: int  # requests admitted in any period_s
    period_s: int  # the sliding window: RateLimit-Policy `w`
    remaining: int  # requests that would be admitted right now
    t_s: float  # until `remaining` next grows (at most `remaining` more are admitted before)
    retry_after_s: float  # until the next request is admitted: t_s when denied, 0 when allowed
    now_epoch_s: float  # the limiter's clock (Redis TIME) when it decided
    source: Literal["redis", "fallback"]
    policy: str

    @property
    def window_s(self) -> int:
        """RateLimit `t` (and Retry-After on a denial): t_s in whole seconds, rounded up."""
        return math.ceil(self.t_s)

    @property
    def reset_epoch_s(self) -> int:
        """X-RateLimit-Reset: the epoch second by which `t` has passed."""
        return math.ceil(self.now_epoch_s) + self.window_s


def limit_for(settings: Settings, plan: str, override: int | None) -> int:
    """Requests per minute: the key's override, else its plan's, else the default plan's."""
    if override is not None:
        return override
    return settings.plans.get(plan, settings.plans[settings.default_plan])


def limit_for_key(settings: Settings, key: LimitedKey) -> int:
    """limit_for applied to an authenticated key."""
    return limit_for(settings, key.plan, key.rate_limit_per_min)


def api_key_bucket(key_id: int) -> str:
    """Redis key of an API key's bucket; the hash tag keeps it on one Cluster slot."""
    return f"rl:{{k{key_id}}}"


def ip_bucket(ip: str) -> str:
    """Redis key of a client IP's bucket (requests without a valid key)."""
    return f"rl:{{ip:{ip}}}"


def _decision(
    outcome: Outcome, limit: int, period_s: int, policy: str, source: Literal["redis", "fallback"]
) -> Decision:
    allowed, remaining, retry_us, t_us, now_us = outcome
    return Decision(
        allowed=allowed == 1,
        limit=limit,
        period_s=period_s,
        remaining=int(remaining),
        t_s=t_us / 1e6,
        retry_after_s=retry_us / 1e6,
        now_epoch_s=now_us / 1e6,
        source=source,
        policy=policy,
    )


def early_margin(limit: int) -> int:
    """A key's read starts before its decision only while more than this many requests are left."""
    return max(1, limit // EARLY_MARGIN_SHARE)


def _answer(waiters: list[asyncio.Future[Decision]], decisions: list[Decision]) -> None:
    for waiter, decision in zip(waiters, decisions, strict=True):
        if not waiter.done():  # a cancelled request was still counted, as it would be alone
            waiter.set_result(decision)


def outcomes_of(reply: list[int]) -> list[Outcome]:
    """window.lua's reply {now, then 4 values per request} as one Outcome per request, in order."""
    now = reply[0]
    return [(reply[i], reply[i + 1], reply[i + 2], reply[i + 3], now) for i in range(1, len(reply) - 3, 4)]


class _Batch:
    """The hits of one bucket waiting for its next EVALSHA (sent at the end of the event-loop tick,
    or when the bucket's previous EVALSHA has been answered)."""

    __slots__ = ("bucket", "limit", "policy", "waiters")

    def __init__(self, bucket: str, limit: int, policy: str) -> None:
        self.bucket = bucket
        self.limit = limit
        self.policy = policy
        self.waiters: list[asyncio.Future[Decision]] = []

    @property
    def key(self) -> tuple[str, int]:
        return self.bucket, self.limit


def window_command(bucket: str, limit: int, period_s: int, count: int) -> bytes:
    """window.lua's EVALSHA deciding `count` hits of one bucket."""
    return pack_command(
        b"EVALSHA",
        WINDOW_SHA,
        b"1",
        bucket.encode(),
        b"%d" % limit,
        b"%d" % (period_s * 1_000_000),
        b"%d" % count,
    )


class RateLimiter:
    """Shared sliding-window logs in Redis; fails open to per-process logs while Redis misbehaves.

    The pipe's timeout is the limiter's: a Redis slower than that is treated as down. `period_s`
    is the window every limit applies to (60 s: limits are per minute; tests shorten it).
    """

    def __init__(self, pipe: RedisPipe, *, ip_limit_per_min: int, period_s: int = PERIOD_S) -> None:
        self.ip_limit_per_min = ip_limit_per_min
        self.period_s = period_s
        self.local = LocalWindow()
        self.fallback_count = 0  # metric: requests decided in-process because Redis failed
        self.redis_failures = 0  # metric: Redis calls that timed out or errored
        self.batches = 0  # metric: EVALSHAs sent for hits (each decides one or more requests)
        self.early_hits = 0  # metric: reads that ran while their decision was on its way ...
        self.early_denied = 0  # ... and of those, the ones denied (a read done for nothing)
        self._pipe = pipe
        self._skip_until = 0.0
        self._degraded = False
        self._probing = False
        self._announced = False
        self._warned_at = -math.inf
        self._unwarned = 0
        self._pending: dict[tuple[str, int], _Batch] = {}
        self._in_flight: set[tuple[str, int]] = set()  # buckets whose EVALSHA awaits its reply
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # Per API key bucket: what Redis last said was left, less the margin and the hits since.
        self._spare: dict[str, int] = {}

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        # Looked up once: on Python 3.11 every get_running_loop() is a getpid() syscall.
        self._loop = asyncio.get_running_loop()
        return self._loop

    async def warm_up(self, timeout_s: float = 2.0) -> None:
        """Connect and load the script before traffic; a Redis that is down now is not fatal."""
        try:
            await asyncio.wait_for(self._pipe.call(PING), timeout_s)
        except (TimeoutError, RedisError, OSError) as exc:
            log.warning("rate_limiter_warm_up_failed", error=repr(exc))

    async def hit_key(self, key_id: int, limit_per_min: int) -> Decision:
        """Count one request against an API key's budget."""
        return await self._hit(api_key_bucket(key_id), limit_per_min, KEY_POLICY)

    def hit_key_early(self, key_id: int, limit_per_min: int) -> asyncio.Future[Decision] | None:
        """Count one request whose work may start before the decision arrives: the decision's
        future, if the key had well over the margin left when Redis last answered for it in this
        process; otherwise None, and the caller awaits hit_key before doing anything.

        The price of a wrong guess (other processes spent the budget meanwhile) is work done for a
        denied request; only reads are started early, and at most one Redis round trip's worth
        of them per process once a key runs dry.
        """
        bucket = api_key_bucket(key_id)
        spare = self._spare.get(bucket, 0)
        if spare <= 0 or self._degraded:
            return None
        self._spare[bucket] = spare - 1
        self.early_hits += 1
        return self._join(bucket, limit_per_min, KEY_POLICY)

    async def hit_ip(self, ip: str) -> Decision:
        """Count one request without a valid key against the client IP's (stricter) budget."""
        return await self._hit(ip_bucket(ip), self.ip_limit_per_min, IP_POLICY)

    async def _hit(self, bucket: str, limit: int, policy: str) -> Decision:
        if not self._use_redis():
            return self._fallback(bucket, limit, policy)
        return await self._join(bucket, limit, policy)

    def _fallback(self, bucket: str, limit: int, policy: str) -> Decision:
        """Decide in-process (Redis failed or is being skipped)."""
        self.fallback_count += 1
        outcome = self.local.hit(bucket, limit, self.period_s * 1_000_000)
        return _decision(outcome, limit, self.period_s, policy, "fallback")

    def _join(self, bucket: str, limit: int, policy: str) -> asyncio.Future[Decision]:
        """Queue one hit on the bucket's next batch, sent at the end of this tick unless one is in flight."""
        key = (bucket, limit)
        loop = self._loop or self._bind_loop()
        batch = self._pending.get(key)
        if batch is None:
            batch = self._pending[key] = _Batch(bucket, limit, policy)
            if not self._flush_scheduled and key not in self._in_flight:
                self._flush_scheduled = True
                loop.call_soon(self._flush)
        waiter: asyncio.Future[Decision] = loop.create_future()
        batch.waiters.append(waiter)
        return waiter

    def _flush(self) -> None:
        """Send every bucket's batch that has no EVALSHA in flight, in one write."""
        self._flush_scheduled = False
        for key in [key for key in self._pending if key not in self._in_flight]:
            self._send(self._pending.pop(key))
        self._pipe.flush()

    def _send(self, batch: _Batch) -> None:
        """One EVALSHA for the whole batch; _answered gives each waiter its Decision."""
        if not self._use_redis():  # an earlier batch may just have failed
            _answer(batch.waiters, self._fallbacks(batch))
            return
        self.batches += 1
        probing = self._probing = self._degraded
        self._in_flight.add(batch.key)
        reply = self._pipe.call(window_command(batch.bucket, batch.limit, self.period_s, len(batch.waiters)))
        reply.add_done_callback(functools.partial(self._answered, batch, probing))

    def _answered(self, batch: _Batch, probing: bool, reply: asyncio.Future[list[int]]) -> None:
        self._in_flight.discard(batch.key)
        outcomes = self._outcomes(reply, probing)
        following = self._pending.pop(batch.key, None)  # hits that arrived while this one was out
        if outcomes is None:
            _answer(batch.waiters, self._fallbacks(batch))
        else:
            decisions = [_decision(o, batch.limit, self.period_s, batch.policy, "redis") for o in outcomes]
            if batch.policy == KEY_POLICY:
                queued = len(following.waiters) if following else 0
                self._remember(batch.bucket, decisions[-1].remaining - early_margin(batch.limit) - queued)
            _answer(batch.waiters, decisions)
        if following is not None:
            self._send(following)
            self._pipe.flush()

    def _fallbacks(self, batch: _Batch) -> list[Decision]:
        return [self._fallback(batch.bucket, batch.limit, batch.policy) for _ in batch.waiters]

    def _remember(self, bucket: str, spare: int) -> None:
        """How many early hits the bucket allows (bounded: a flood of keys only forgets them all)."""
        if bucket not in self._spare and len(self._spare) >= MAX_SPARE_KEYS:
            self._spare.clear()
        self._spare[bucket] = spare

    def _outcomes(self, reply: asyncio.Future[list[int]], probing: bool) -> list[Outcome] | None:
        """The script's outcomes, or None (and the failure recorded) if Redis erred or was too slow."""
        if probing:
            self._probing = False
        error = asyncio.CancelledError() if reply.cancelled() else reply.exception()
        if error is not None:
            self._redis_failed(error)
            return None
        self._redis_ok()
        return outcomes_of(reply.result())

    def _use_redis(self) -> bool:
        """Healthy: always. Degraded: one probe at a time, once the backoff has passed."""
        if not self._degraded:
            return True
        return not self._probing and time.monotonic() >= self._skip_until

    def _redis_failed(self, exc: BaseException) -> None:
        self.redis_failures += 1
        self._skip_until = time.monotonic() + BACKOFF_S
        self._degraded = True
        self._unwarned += 1
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            log.warning(
                "rate_limiter_fallback",
                error=repr(exc),
                failures_since_last_warning=self._unwarned,
                fallback_requests=self.fallback_count,
            )
            self._warned_at, self._unwarned = now, 0
            self._announced = True

    def _redis_ok(self) -> None:
        self._degraded = False
        if self._announced:  # one "recovered" per "fallback" warning, however requests interleave
            self._announced = False
            log.warning("rate_limiter_recovered", fallback_requests=self.fallback_count)
