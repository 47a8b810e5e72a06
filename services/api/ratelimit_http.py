"""aiohttp side of rate limiting: the limiter's cleanup context, headers, auth's hooks.

Wiring (services/api/app.py): ratelimit_ctx in cleanup_ctx; without it nothing is limited. auth
calls `await charge_failed_auth(request)` when a request fails to authenticate (only then does
the client IP's budget count), and `charge_key` (or
`charge_key_early` for a read) once it knows the key. Each decision leaves its headers under
shared.middleware's response_headers_key, so every /api/v1 response carries them, errors included.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator

from aiohttp import web

from services.api.ratelimit import WINDOW_SCRIPT, Decision, LimitedKey, RateLimiter, limit_for_key
from shared import errors
from shared.middleware import response_headers_key
from shared.redis_pipe import RedisPipe
from shared.web import settings_key

limiter_key = web.AppKey("rate_limiter", RateLimiter)


async def ratelimit_ctx(app: web.Application) -> AsyncIterator[None]:
    """The process's RateLimiter, on a pipelined Redis connection of its own."""
    settings = app[settings_key]
    pipe = RedisPipe(
        settings.redis_url, timeout_s=settings.rate_limit_timeout_ms / 1000, scripts=(WINDOW_SCRIPT,)
    )
    limiter = RateLimiter(pipe, ip_limit_per_min=settings.ip_rate_limit_per_min)
    await limiter.warm_up()
    app[limiter_key] = limiter
    yield
    await pipe.aclose()


@functools.lru_cache(maxsize=1024)  # a few plans plus per-key overrides
def _policy_fields(policy: str, limit: int, period_s: int) -> tuple[str, str, str]:
    """The header values that depend only on the policy: built once per (policy, limit, period)."""
    return str(limit), f'"{policy}";q={limit};w={period_s}', f'"{policy}";r='


def headers_for(decision: Decision) -> dict[str, str]:
    """X-RateLimit-*, the IETF RateLimit-Policy/RateLimit fields (draft -08..-11), Retry-After on deny."""
    window = decision.window_s
    limit, policy, rate_prefix = _policy_fields(decision.policy, decision.limit, decision.period_s)
    remaining = str(decision.remaining)
    headers = {
        "X-RateLimit-Limit": limit,
        "X-RateLimit-Remaining": remaining,
        "X-RateLimit-Reset": str(decision.reset_epoch_s),
        "RateLimit-Policy": policy,
        "RateLimit": f"{rate_prefix}{remaining};t={window}",
    }
    if not decision.allowed:
        headers["Retry-After"] = str(window)
    return headers


def rate_limited(decision: Decision, *, by_ip: bool) -> errors.RateLimited:
    """The 429 for a denied decision: detail says when to retry; headers included."""
    who = "from this IP address without a valid API key" if by_ip else "for this API key"
    detail = (
        f"Rate limit exceeded {who}: at most {decision.limit} requests in any {decision.period_s} s."
        f" Retry after {decision.window_s} s."
    )
    return errors.RateLimited(detail, decision.window_s, headers=headers_for(decision))


def client_ip(request: web.Request) -> str:
    """The peer address (forwarded-for headers are not trusted: anyone can send them)."""
    return request.remote or "unknown"


def note_decision(request: web.Request, decision: Decision) -> None:
    """The response to this request, whatever it turns out to be, carries the decision's headers."""
    request[response_headers_key] = headers_for(decision)


async def charge_failed_auth(request: web.Request) -> None:
    """A request without a valid key counts against its client IP: 429 once the IP is over budget."""
    limiter = request.app.get(limiter_key)
    if limiter is None:
        return
    decision = await limiter.hit_ip(client_ip(request))
    note_decision(request, decision)
    if not decision.allowed:
        raise rate_limited(decision, by_ip=True)


async def charge_key(request: web.Request, key: LimitedKey) -> Decision | None:
    """Count this request against its authenticated key (None: no limiter in this app)."""
    limiter = request.app.get(limiter_key)
    if limiter is None:
        return None
    decision = await limiter.hit_key(key.key_id, limit_for_key(request.app[settings_key], key))
    note_decision(request, decision)
    return decision


def charge_key_early(request: web.Request, key: LimitedKey) -> asyncio.Future[Decision] | None:
    """Count a read against its key without waiting for the decision, if the key has budget to
    spare (RateLimiter.hit_key_early); None: use charge_key before doing the work."""
    limiter = request.app.get(limiter_key)
    if limiter is None:
        return None
    return limiter.hit_key_early(key.key_id, limit_for_key(request.app[settings_key], key))


def settle_early_charge(request: web.Request, decision: Decision) -> None:
    """The decision on a read that ran early: remembered for the headers; a denial raises the same
    429 as if the read had never run (a read changes nothing, so its result is simply dropped)."""
    note_decision(request, decision)
    if not decision.allowed:
        request.app[limiter_key].early_denied += 1
        raise rate_limited(decision, by_ip=False)
