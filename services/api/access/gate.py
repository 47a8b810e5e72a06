"""The one entry point of access control: `decide(request)`, and the thin middleware that obeys it.

A request under /api/v1/ (openapi.json aside) names its key; the key is looked up in this
process's cache (Postgres once per key per TTL), counted against its budget (limiter.py), and
checked for the method's scope. A request without a valid key counts against its client IP's
stricter budget instead. Every answer, refusals included, carries the rate-limit headers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler

from services.api.access.limiter import limit_for
from services.api.typedefs import API_PREFIX, api_key_info, key_cache_key, limiter_key
from shared.config import Settings
from shared.db.api_keys import find_key_by_hash
from shared.errors import AppError, Forbidden, Unauthenticated
from shared.keys import hash_key, looks_like_key
from shared.web import response_headers_key, settings_key, statements_key

PUBLIC_PATHS = frozenset({"/api/v1/openapi.json"})
NEGATIVE_TTL_S = 2.0  # unknown keys: short, so a burst of bad keys doesn't reach Postgres
UNHEALTHY_TTL_S = 1.0  # revocations must apply within 1 s even when pub/sub is down
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ApiKeyInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated key, as handlers and the rate limiter read it from the request."""

    key_id: int
    account_id: int
    email: str
    prefix: str
    scopes: tuple[str, ...]
    plan: str
    rate_limit_per_min: int | None  # the key's override of its plan, if any


class KeyCache:
    """hash -> key info (None = unknown or revoked), with the age rules of docs/api.md, plus the
    keys' last uses, written to Postgres in batches (contexts.py)."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self.healthy = False  # set by the pub/sub listener once subscribed
        self.generation = 0  # bumped by clear(); a lookup that raced a clear isn't stored
        self._entries: dict[bytes, tuple[ApiKeyInfo | None, float]] = {}
        self._used: dict[int, datetime] = {}

    def get(self, key_hash: bytes) -> tuple[bool, ApiKeyInfo | None]:
        """(hit, info); a miss means the caller must ask Postgres."""
        entry = self._entries.get(key_hash)
        if entry is None:
            return False, None
        info, loaded_at = entry
        age = self.clock() - loaded_at
        ttl = self.ttl_s if info is not None else NEGATIVE_TTL_S
        if age > (ttl if self.healthy else min(ttl, UNHEALTHY_TTL_S)):
            del self._entries[key_hash]
            return False, None
        return True, info

    def put(self, key_hash: bytes, info: ApiKeyInfo | None, generation: int) -> None:
        """Remember a lookup started at `generation` (None for unknown or revoked keys).

        If the cache was cleared while the lookup ran, the row may predate a revocation: don't keep it.
        """
        if generation == self.generation:
            self._entries[key_hash] = (info, self.clock())

    def clear(self) -> None:
        """Forget everything: a key changed somewhere, or we may have missed such a message."""
        self._entries.clear()
        self.generation += 1

    def __len__(self) -> int:
        return len(self._entries)

    def record_use(self, key_id: int) -> None:
        """Note a request for last_used_at; written later in one batch."""
        self._used[key_id] = datetime.now(UTC)

    def take_used(self) -> dict[int, datetime]:
        """The uses since the last flush (and forget them)."""
        used, self._used = self._used, {}
        return used

    def restore_used(self, used: dict[int, datetime]) -> None:
        """Put back uses a failed flush didn't write (newer ones win)."""
        for key_id, at in used.items():
            self._used[key_id] = max(at, self._used.get(key_id, at))


class Access(msgspec.Struct, frozen=True):
    """decide()'s answer: who the key is (None: no valid key), the rate-limit headers every
    response to the request carries (None: no limiter in this app), and the refusal to raise
    instead of running the handler (None: allowed)."""

    key: ApiKeyInfo | None
    headers: dict[str, str] | None
    refusal: AppError | None


def limit_for_key(settings: Settings, key: ApiKeyInfo) -> int:
    """limit_for applied to an authenticated key."""
    return limit_for(settings, key.plan, key.rate_limit_per_min)


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
        key_id=row["id"], account_id=row["account_id"], email=row["email"], prefix=row["prefix"],
        scopes=tuple(row["scopes"]), plan=row["plan"], rate_limit_per_min=row["rate_limit_per_min"],
    )  # fmt: skip


async def authenticate(request: web.Request, key: str) -> ApiKeyInfo:
    """The key's info from the process cache, or from Postgres once; 401 if unknown or revoked."""
    if not looks_like_key(key):
        raise Unauthenticated("Invalid API key.", headers=_CHALLENGE)
    cache = request.app[key_cache_key]
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


async def decide(request: web.Request) -> Access:
    """Who the request's key is, whether the request may run, and the headers its response carries."""
    limiter = request.app.get(limiter_key)
    try:
        key = await authenticate(request, presented_key(request))
    except Unauthenticated as unauthenticated:
        if limiter is None:
            return Access(None, None, unauthenticated)
        # Only a request without a valid key counts against its IP: a flood of bad keys meets
        # the IP's stricter budget, and a valid key from that IP is not locked out.
        by_ip = await limiter.hit_ip(request.remote or "unknown")  # forwarded-for is not trusted
        return Access(None, by_ip.headers(), unauthenticated if by_ip.allowed else by_ip.refusal())
    scope = required_scope(request.method)
    refusal: AppError | None = None
    if scope not in key.scopes:  # counted all the same: every authenticated request is, a 403 too
        refusal = Forbidden(f"This API key lacks the '{scope}' scope.")
    if limiter is None:
        return Access(key, None, refusal)
    decision = await limiter.hit_key(key.key_id, limit_for_key(request.app[settings_key], key))
    if refusal is None and not decision.allowed:
        refusal = decision.refusal()
    return Access(key, decision.headers(), refusal)


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run /api/v1/* handlers only for what decide() allows; its headers go on any response."""
    path = request.path
    if not path.startswith(API_PREFIX) or path in PUBLIC_PATHS or request.match_info.http_exception:
        return await handler(request)  # unknown paths and methods keep their 404/405
    access = await decide(request)
    if access.headers is not None:
        request[response_headers_key] = access.headers
    if access.key is not None:
        request[api_key_info] = access.key
    if access.refusal is not None:
        raise access.refusal
    return await handler(request)
