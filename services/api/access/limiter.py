"""Per-key and per-IP request budgets: a sliding-window log in one Redis script, an in-process
fallback while Redis fails.

Semantics (docs/rate-limits.md): a limit of L per minute admits at most L requests in any 60 s,
exactly what `RateLimit-Policy: q=L;w=60` says. Denied requests consume nothing. One EVALSHA
returns everything the response headers need. The hits of one bucket share an EVALSHA: those of
one event-loop tick, and those that arrive while the bucket's previous EVALSHA is out (the script
decides them one after the other, exactly as separate calls would). The tick itself is the
pipe's (RedisPipe.defer): the limiter groups by bucket, the pipe writes once per tick.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import math
from pathlib import Path
from typing import Literal

import msgspec
import structlog
from redis.exceptions import RedisError

from services.api.access.health import RedisHealth, RedisState
from services.api.access.local import LocalWindow, Outcome
from shared import errors
from shared.config import Settings
from shared.redis_pipe import RedisPipe, pack_command

log = structlog.get_logger(__name__)

PERIOD_S = 60  # every limit is "requests per minute": at most L in any 60 s
KEY_POLICY = "default"  # RateLimit-Policy name for API keys
IP_POLICY = "ip"  # ... and for requests without a valid key
WINDOW_SCRIPT = (Path(__file__).parent / "window.lua").read_bytes()
WINDOW_SHA = hashlib.sha1(WINDOW_SCRIPT, usedforsecurity=False).hexdigest().encode()
PING = pack_command(b"PING")
# This process's decisions by (policy, decision, source): a dict increment on the hot path; the
# API's /metrics folds them into ringready_rate_limit_decisions_total (shared/metrics).
DECISIONS: collections.Counter[tuple[str, str, str]] = collections.Counter()


@functools.lru_cache(maxsize=1024)  # a few plans plus per-key overrides
def _policy_fields(policy: str, limit: int, period_s: int) -> tuple[str, str, str]:
    """The header values that depend only on the policy: built once per (policy, limit, period)."""
    return str(limit), f'"{policy}";q={limit};w={period_s}', f'"{policy}";r='


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

    def headers(self) -> dict[str, str]:
        """X-RateLimit-*, the IETF RateLimit-Policy/RateLimit fields (draft -08..-11), Retry-After on deny."""
        window = self.window_s
        limit, policy, rate_prefix = _policy_fields(self.policy, self.limit, self.period_s)
        remaining = str(self.remaining)
        headers = {
            "X-RateLimit-Limit": limit,
            "X-RateLimit-Remaining": remaining,
            "X-RateLimit-Reset": str(self.reset_epoch_s),
            "RateLimit-Policy": policy,
            "RateLimit": f"{rate_prefix}{remaining};t={window}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(window)
        return headers

    def refusal(self) -> errors.RateLimited:
        """The 429 for a denial: detail says whose budget and when to retry; headers included."""
        who = (
            "from this IP address without a valid API key" if self.policy == IP_POLICY else "for this API key"
        )
        detail = (
            f"Rate limit exceeded {who}: at most {self.limit} requests in any {self.period_s} s."
            f" Retry after {self.window_s} s."
        )
        return errors.RateLimited(detail, self.window_s, headers=self.headers())


def limit_for(settings: Settings, plan: str, override: int | None) -> int:
    """Requests per minute: the key's override, else its plan's, else the default plan's."""
    if override is not None:
        return override
    return settings.plans.get(plan, settings.plans[settings.default_plan])


def api_key_bucket(key_id: int) -> str:
    """Redis key of an API key's bucket; the hash tag keeps it on one Cluster slot."""
    return f"rl:{{k{key_id}}}"


def ip_bucket(ip: str) -> str:
    """Redis key of a client IP's bucket (requests without a valid key)."""
    return f"rl:{{ip:{ip}}}"


def window_command(bucket: str, limit: int, period_s: int, count: int) -> bytes:
    """window.lua's EVALSHA deciding `count` hits of one bucket."""
    args = (bucket.encode(), b"%d" % limit, b"%d" % (period_s * 1_000_000), b"%d" % count)
    return pack_command(b"EVALSHA", WINDOW_SHA, b"1", *args)


def outcomes_of(reply: list[int]) -> list[Outcome]:
    """window.lua's reply {now, then 4 values per request} as one Outcome per request, in order."""
    now = reply[0]
    return [(reply[i], reply[i + 1], reply[i + 2], reply[i + 3], now) for i in range(1, len(reply) - 3, 4)]


class _Batch(msgspec.Struct):
    """The hits of one bucket waiting for its next EVALSHA, and how to label their decisions."""

    bucket: str
    limit: int
    policy: str
    waiters: list[asyncio.Future[Decision]]

    def decide(self, outcome: Outcome, period_s: int, source: Literal["redis", "fallback"]) -> Decision:
        allowed, remaining, retry_us, t_us, now_us = outcome
        DECISIONS[self.policy, "allowed" if allowed == 1 else "denied", source] += 1
        return Decision(
            allowed=allowed == 1, limit=self.limit, period_s=period_s, remaining=int(remaining),
            t_s=t_us / 1e6, retry_after_s=retry_us / 1e6, now_epoch_s=now_us / 1e6,
            source=source, policy=self.policy,
        )  # fmt: skip

    def answer(self, decisions: list[Decision]) -> None:
        for waiter, decision in zip(self.waiters, decisions, strict=True):
            if not waiter.done():  # a cancelled request was still counted, as it would be alone
                waiter.set_result(decision)


class RateLimiter:
    """Shared sliding-window logs in Redis; per-process logs while Redis misbehaves (RedisHealth).

    The pipe's timeout is the limiter's: a Redis slower than that is treated as down. `period_s`
    is the window every limit applies to (60 s: limits are per minute; tests shorten it).
    """

    def __init__(self, pipe: RedisPipe, *, ip_limit_per_min: int, period_s: int = PERIOD_S) -> None:
        self.ip_limit_per_min = ip_limit_per_min
        self.period_s = period_s
        self.local = LocalWindow()
        self.health = RedisHealth()
        self.fallback_count = 0  # metric: requests decided in-process because Redis failed
        self.batches = 0  # metric: EVALSHAs sent for hits (each decides one or more requests)
        self._pipe = pipe
        self._pending: dict[tuple[str, int], _Batch] = {}
        self._in_flight: set[tuple[str, int]] = set()  # buckets whose EVALSHA awaits its reply
        self._deferred = False  # _send_pending runs before the pipe's next write

    @property
    def redis_failures(self) -> int:
        """Metric: Redis calls that timed out or errored."""
        return self.health.failures

    async def warm_up(self, timeout_s: float = 2.0) -> None:
        """Connect and load the script before traffic; a Redis that is down now is not fatal."""
        try:
            await asyncio.wait_for(self._pipe.call(PING), timeout_s)
        except (TimeoutError, RedisError, OSError) as exc:
            log.warning("rate_limiter_warm_up_failed", error=repr(exc))

    async def hit_key(self, key_id: int, limit_per_min: int) -> Decision:
        """Count one request against an API key's budget."""
        return await self._hit(api_key_bucket(key_id), limit_per_min, KEY_POLICY)

    async def hit_ip(self, ip: str) -> Decision:
        """Count one request without a valid key against the client IP's (stricter) budget."""
        return await self._hit(ip_bucket(ip), self.ip_limit_per_min, IP_POLICY)

    async def _hit(self, bucket: str, limit: int, policy: str) -> Decision:
        if not self._use_redis():
            return self._fallbacks(_Batch(bucket, limit, policy, []), 1)[0]
        key = (bucket, limit)
        batch = self._pending.get(key)
        if batch is None:
            batch = self._pending[key] = _Batch(bucket, limit, policy, [])
            if not self._deferred and key not in self._in_flight:
                self._deferred = True
                self._pipe.defer(self._send_pending)
        waiter: asyncio.Future[Decision] = self._pipe.future()
        batch.waiters.append(waiter)
        return await waiter

    def _use_redis(self) -> bool:
        return self.health.state is RedisState.HEALTHY or self.health.may_call()

    def _send_pending(self) -> None:
        """Send every bucket's batch that has no EVALSHA in flight (they leave in the pipe's write)."""
        self._deferred = False
        for key in [key for key in self._pending if key not in self._in_flight]:
            self._send(self._pending.pop(key))

    def _send(self, batch: _Batch) -> None:
        """One EVALSHA for the whole batch; _answered gives each waiter its Decision."""
        if not self._use_redis():  # an earlier batch may just have failed
            batch.answer(self._fallbacks(batch, len(batch.waiters)))
            return
        self.batches += 1
        probe = self.health.state is not RedisState.HEALTHY and self.health.calling()
        self._in_flight.add((batch.bucket, batch.limit))
        reply = self._pipe.call(window_command(batch.bucket, batch.limit, self.period_s, len(batch.waiters)))
        reply.add_done_callback(functools.partial(self._answered, batch, probe))

    def _answered(self, batch: _Batch, probe: bool, reply: asyncio.Future[list[int]]) -> None:
        key = (batch.bucket, batch.limit)
        self._in_flight.discard(key)
        following = self._pending.pop(key, None)  # hits that arrived while this one was out
        error = asyncio.CancelledError() if reply.cancelled() else reply.exception()
        if error is not None:
            self.health.failed(error, probe=probe, fallback_requests=self.fallback_count)
            batch.answer(self._fallbacks(batch, len(batch.waiters)))
        else:
            if self.health.state is not RedisState.HEALTHY:
                self.health.answered(fallback_requests=self.fallback_count)
            batch.answer([batch.decide(o, self.period_s, "redis") for o in outcomes_of(reply.result())])
        if following is not None:
            self._send(following)

    def _fallbacks(self, batch: _Batch, count: int) -> list[Decision]:
        """Decide `count` requests of the batch's bucket in-process (Redis failed or is being skipped)."""
        self.fallback_count += count
        window_us = self.period_s * 1_000_000
        return [
            batch.decide(self.local.hit(batch.bucket, batch.limit, window_us), self.period_s, "fallback")
            for _ in range(count)
        ]
