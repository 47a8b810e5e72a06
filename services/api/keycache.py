"""Per-process cache of API key lookups, kept honest by Redis pub/sub, plus batched last_used_at."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

NEGATIVE_TTL_S = 2.0  # unknown keys: short, so a burst of bad keys doesn't reach Postgres
UNHEALTHY_TTL_S = 1.0  # revocations must apply within 1 s even when pub/sub is down


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
    """hash -> key info (None = unknown or revoked), with the age rules of docs/api.md."""

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
