"""KeyCache age rules, on a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime

from services.api.access.gate import NEGATIVE_TTL_S, UNHEALTHY_TTL_S, ApiKeyInfo, KeyCache

INFO = ApiKeyInfo(
    key_id=1, account_id=2, email="a@example.com", prefix="rr_live_abcd", scopes=("read",), plan="free",
    rate_limit_per_min=None,
)  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_positive_entries_live_for_the_ttl_while_healthy() -> None:
    clock = Clock()
    cache = KeyCache(ttl_s=60, clock=clock)
    cache.healthy = True
    cache.put(b"h", INFO, cache.generation)
    clock.now += 59
    assert cache.get(b"h") == (True, INFO)
    clock.now += 2
    assert cache.get(b"h") == (False, None)


def test_unknown_keys_are_remembered_briefly() -> None:
    clock = Clock()
    cache = KeyCache(ttl_s=60, clock=clock)
    cache.healthy = True
    cache.put(b"h", None, cache.generation)
    clock.now += NEGATIVE_TTL_S - 0.1
    assert cache.get(b"h") == (True, None)
    clock.now += 0.2
    assert cache.get(b"h") == (False, None)


def test_entries_go_stale_after_a_second_while_unsubscribed() -> None:
    clock = Clock()
    cache = KeyCache(ttl_s=60, clock=clock)
    cache.put(b"h", INFO, cache.generation)
    clock.now += UNHEALTHY_TTL_S - 0.1
    assert cache.get(b"h") == (True, INFO)
    clock.now += 0.2
    assert cache.get(b"h") == (False, None)


def test_clear_forgets_everything() -> None:
    cache = KeyCache(ttl_s=60)
    cache.healthy = True
    cache.put(b"a", INFO, cache.generation)
    cache.put(b"b", None, cache.generation)
    cache.clear()
    assert len(cache) == 0 and cache.get(b"a") == (False, None)


def test_a_lookup_that_raced_a_clear_is_not_kept() -> None:
    cache = KeyCache(ttl_s=60)
    cache.healthy = True
    started_at = cache.generation
    cache.clear()  # a revocation message arrived while the lookup was in flight
    cache.put(b"h", INFO, started_at)
    assert cache.get(b"h") == (False, None)
    cache.put(b"h", INFO, cache.generation)
    assert cache.get(b"h") == (True, INFO)


def test_used_keys_are_taken_once_and_restored_without_going_backwards() -> None:
    cache = KeyCache(ttl_s=60)
    cache.record_use(1)
    taken = cache.take_used()
    assert list(taken) == [1] and cache.take_used() == {}
    cache.record_use(1)
    newer = cache.take_used()[1]
    cache.record_use(1)
    cache.restore_used({1: datetime(2000, 1, 1, tzinfo=UTC)})
    assert cache.take_used()[1] >= newer
