"""API key authentication and scope checks for /api/v1 (openapi.json is public)."""

from __future__ import annotations

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler

from services.api.keycache import ApiKeyInfo, KeyCache
from services.api.ratelimit_http import (
    charge_failed_auth,
    charge_key,
    charge_key_early,
    rate_limited,
    settle_early_charge,
)
from services.api.typedefs import API_PREFIX, api_key_info, key_cache_key
from shared.db.api_keys import find_key_by_hash
from shared.errors import Forbidden, Unauthenticated
from shared.keys import hash_key, looks_like_key
from shared.web import statements_key

PUBLIC_PATHS = frozenset({"/api/v1/openapi.json"})
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def presented_key(request: web.Request) -> str:
    """The key from `Authorization: Bearer ...` or `X-API-KEY: ...`."""
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Authorization header must be 'Bearer <api key>'.", headers=_CHALLENGE)
        return token.strip()
    header_key = request.headers.get("X-API-KEY")
    if header_key:
        return header_key.strip()
    raise Unauthenticated(
        "Missing API key: send 'Authorization: Bearer rr_live_...' (or 'X-API-KEY: rr_live_...').",
        headers=_CHALLENGE,
    )


def _info_from(row: asyncpg.Record) -> ApiKeyInfo | None:
    """The cacheable view of a key row; revoked keys are remembered as None."""
    if row["revoked_at"] is not None:
        return None
    return ApiKeyInfo(
        key_id=row["id"],
        account_id=row["account_id"],
        email=row["email"],
        prefix=row["prefix"],
        scopes=tuple(row["scopes"]),
        plan=row["plan"],
        rate_limit_per_min=row["rate_limit_per_min"],
    )


async def authenticate(request: web.Request, key: str) -> ApiKeyInfo:
    """The key's info from the process cache, or from Postgres once; 401 if unknown or revoked."""
    if not looks_like_key(key):
        raise Unauthenticated("Invalid API key.", headers=_CHALLENGE)
    cache: KeyCache = request.app[key_cache_key]
    key_hash = hash_key(key)
    hit, info = cache.get(key_hash)
    if not hit:
        # The only Postgres round trip of auth: once per key per TTL (or per second without pub/sub).
        # Not gated by the client IP's budget: a valid key is judged by its own budget alone, even
        # from an IP that bad keys flooded (docs/rate-limits.md: a well-formed unknown key costs
        # one indexed lookup, then its 401 or 429 is charged to the IP).
        generation = cache.generation
        row = await find_key_by_hash(request.app[statements_key], key_hash)
        info = None if row is None else _info_from(row)
        cache.put(key_hash, info, generation)
    if info is None:
        raise Unauthenticated("Invalid or revoked API key.", headers=_CHALLENGE)
    cache.record_use(info.key_id)
    return info


def required_scope(method: str) -> str:
    """Reads need 'read'; every other method (PATCH) needs 'write'."""
    return "read" if method in _READ_METHODS else "write"


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate /api/v1/*, count the request against the key, check the method's scope."""
    path = request.path
    if not path.startswith(API_PREFIX) or path in PUBLIC_PATHS or request.match_info.http_exception:
        return await handler(request)  # unknown paths and methods keep their 404/405
    try:
        info = await authenticate(request, presented_key(request))
    except Unauthenticated:
        await charge_failed_auth(request)  # a flood of bad keys meets the IP's stricter budget
        raise
    request[api_key_info] = info
    scope = required_scope(request.method)
    if scope == "read" and scope in info.scopes:
        early = charge_key_early(request, info)  # the read need not wait for Redis's answer
        if early is not None:
            try:
                response = await handler(request)
            except Exception:
                settle_early_charge(request, await early)  # a denial's 429 replaces the read's error
                raise
            settle_early_charge(request, await early)
            return response
    decision = await charge_key(request, info)  # every authenticated request counts, a 403 too
    if scope not in info.scopes:
        raise Forbidden(f"This API key lacks the '{scope}' scope.")
    if decision is not None and not decision.allowed:
        raise rate_limited(decision, by_ip=False)
    return await handler(request)
