"""The in-process fallback GCRA, on a clock the test moves (no Redis involved)."""

from __future__ import annotations

from services.api.ratelimit import interval_us
from services.api.ratelimit_local import LocalGcra


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


def test_burst_admits_exactly_the_limit_and_refills_one_per_interval() -> None:
    clock = Clock()
    gcra = LocalGcra(clock_us=clock, epoch_us=clock)
    interval = interval_us(20)  # 3 s
    outcomes = [gcra.hit("k", 20, interval) for _ in range(30)]
    assert [o[0] for o in outcomes] == [1] * 20 + [0] * 10
    assert [o[1] for o in outcomes[:20]] == list(range(19, -1, -1))
    assert outcomes[20][2] == interval  # retry after one interval
    clock.now += interval - 1
    assert gcra.hit("k", 20, interval)[0] == 0
    clock.now += 1
    assert gcra.hit("k", 20, interval)[:2] == (1, 0)


def test_denied_requests_do_not_consume() -> None:
    clock = Clock()
    gcra = LocalGcra(clock_us=clock, epoch_us=clock)
    for _ in range(2):
        gcra.hit("k", 2, 1000)
    for _ in range(50):
        assert gcra.hit("k", 2, 1000)[0] == 0
    clock.now += 1000
    assert gcra.hit("k", 2, 1000)[0] == 1


def test_keys_are_independent_and_memory_is_bounded() -> None:
    clock = Clock()
    gcra = LocalGcra(clock_us=clock, epoch_us=clock, max_keys=3)
    for name in "abc":
        assert gcra.hit(name, 1, 1000)[0] == 1
    assert gcra.hit("a", 1, 1000)[0] == 0
    clock.now += 1000  # every bucket is full again: pruning may forget them
    assert gcra.hit("d", 1, 1000)[0] == 1
    assert len(gcra) == 1
    assert gcra.hit("a", 1, 1000)[0] == 1
