"""aiohttp side of rate limiting: the limiter's cleanup context, headers, middlewares, auth hook.

Wiring (services/api/app.py):
    middlewares=[request_middleware, ratelimit_middleware, auth_middleware]
    cleanup_ctx: [..., ratelimit_ctx]
auth calls `await guard_key_lookup(request)` just before looking an uncached key up in Postgres, and
`await charge_key(request, info)` once it knows the key. Without ratelimit_ctx nothing is limited.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler

from services.api.ratelimit import GCRA_SCRIPT, PERIOD_S, Decision, LimitedKey, RateLimiter, limit_for_key
from services.api.typedefs import API_PREFIX
from shared import errors
from shared.middleware import render_failure
from shared.redis_pipe import RedisPipe
from shared.web import settings_key

limiter_key = web.AppKey("rate_limiter", RateLimiter)
decision_key = web.RequestKey("rate_limit_decision", Decision)


async def ratelimit_ctx(app: web.Application) -> AsyncIterator[None]:
    """The process's RateLimiter, on a pipelined Redis connection of its own."""
    settings = app[settings_key]
    pipe = RedisPipe(
        settings.redis_url, timeout_s=settings.rate_limit_timeout_ms / 1000, scripts=(GCRA_SCRIPT,)
    )
    limiter = RateLimiter(pipe, ip_limit_per_min=settings.ip_rate_limit_per_min)
    await limiter.warm_up()
    app[limiter_key] = limiter
    yield
    await pipe.aclose()


@functools.lru_cache(maxsize=1024)  # a few plans plus per-key overrides
def _policy_fields(policy: str, limit: int) -> tuple[str, str, str]:
    """The header values that depend only on the policy: built once per (policy, limit)."""
    return str(limit), f'"{policy}";q={limit};w={PERIOD_S}', f'"{policy}";r='


def headers_for(decision: Decision) -> dict[str, str]:
    """X-RateLimit-*, the IETF RateLimit-Policy/RateLimit fields (draft -08..-11), Retry-After on deny."""
    window = decision.window_s
    limit, policy, rate_prefix = _policy_fields(decision.policy, decision.limit)
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
        f"Rate limit exceeded {who}: {decision.limit} requests per minute. Retry after {decision.window_s} s."
    )
    return errors.RateLimited(detail, decision.window_s, headers=headers_for(decision))


def client_ip(request: web.Request) -> str:
    """The peer address (forwarded-for headers are not trusted: anyone can send them)."""
    return request.remote or "unknown"


async def charge_ip(request: web.Request) -> Decision | None:
    """Count this request against its client IP and remember the decision on the request."""
    limiter = request.app.get(limiter_key)
    if limiter is None:
        return None
    decision = await limiter.hit_ip(client_ip(request))
    request[decision_key] = decision
    return decision


async def guard_key_lookup(request: web.Request) -> None:
    """Auth calls this before a Postgres lookup of an uncached key: 429 once the IP is over budget.

    Only a peek: a valid key is never charged to its IP (a burst of first requests after a
    restart must not hit the IP limit); the failed lookup is charged when its 401 is rendered.
    """
    limiter = request.app.get(limiter_key)
    if limiter is None:
        return
    decision = await limiter.peek_ip(client_ip(request))
    if not decision.allowed:
        request[decision_key] = decision
        raise rate_limited(decision, by_ip=True)


async def charge_key(request: web.Request, key: LimitedKey) -> Decision | None:
    """Count this request against its authenticated key (None: no limiter in this app)."""
    limiter = request.app.get(limiter_key)
    if limiter is None:
        return None
    decision = await limiter.hit_key(key.key_id, limit_for_key(request.app[settings_key], key))
    request[decision_key] = decision
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
    request[decision_key] = decision
    if not decision.allowed:
        request.app[limiter_key].early_denied += 1
        raise rate_limited(decision, by_ip=False)


async def _render_error(request: web.Request, exc: Exception) -> web.StreamResponse:
    """Render as request_middleware would; a failed auth is counted against the client IP first."""
    if isinstance(exc, errors.Unauthenticated) and decision_key not in request:
        decision = await charge_ip(request)
        if decision is not None and not decision.allowed:
            exc = rate_limited(decision, by_ip=True)
    return render_failure(request, exc)


@web.middleware
async def ratelimit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Before auth: every /api/v1 response, errors included, carries the rate-limit headers."""
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = await _render_error(request, exc)
    except Exception as exc:
        response = await _render_error(request, exc)
    decision = request.get(decision_key)
    if decision is not None and not response.prepared:
        response.headers.update(headers_for(decision))
    return response
