"""The in-process fallback sliding-window log, on a clock the test moves (no Redis involved)."""

from __future__ import annotations

from services.api.access.local import LocalWindow

WINDOW = 60_000_000  # 60 s in microseconds


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


def test_at_most_the_limit_in_any_window_and_none_back_before_the_oldest_leaves() -> None:
    clock = Clock()
    log = LocalWindow(clock_us=clock, epoch_us=clock)
    outcomes = [log.hit("k", 20, WINDOW) for _ in range(30)]
    assert [o[0] for o in outcomes] == [1] * 20 + [0] * 10
    assert [o[1] for o in outcomes[:20]] == list(range(19, -1, -1))
    assert outcomes[20][2] == outcomes[20][3] == WINDOW  # retry and t: when the first one leaves
    clock.now += WINDOW // 2  # a refilling bucket would have admitted 10 more by now
    assert log.hit("k", 20, WINDOW)[:4] == (0, 0, WINDOW // 2, WINDOW // 2)
    clock.now += WINDOW // 2 - 1
    assert log.hit("k", 20, WINDOW)[0] == 0
    clock.now += 1  # the burst leaves the window (its stamps are a microsecond apart)
    assert log.hit("k", 20, WINDOW)[:2] == (1, 0)  # only the first stamp has left ...
    clock.now += 19
    assert log.hit("k", 20, WINDOW)[:2] == (1, 18)  # ... now all of them


def test_sliding_not_fixed_windows() -> None:
    clock = Clock()
    log = LocalWindow(clock_us=clock, epoch_us=clock)
    admitted = []
    for _ in range(240):  # one attempt every 0.5 s for 2 minutes, limit 10 per 60 s
        if log.hit("k", 10, WINDOW)[0]:
            admitted.append(clock.now)
        clock.now += WINDOW // 120
    for start in admitted:
        assert len([at for at in admitted if start <= at < start + WINDOW]) <= 10
    assert len(admitted) == 20  # 10 at once, then 10 more once the first ones left


def test_t_is_when_remaining_next_grows() -> None:
    clock = Clock()
    log = LocalWindow(clock_us=clock, epoch_us=clock)
    assert log.hit("k", 3, WINDOW)[1:4] == (2, 0, WINDOW)
    clock.now += 10_000_000
    assert log.hit("k", 3, WINDOW)[1:4] == (1, 0, WINDOW - 10_000_000)  # the first leaves in 50 s
    assert log.hit("k", 2, WINDOW)[:4] == (0, 0, 50_000_000, 50_000_000)  # limit lowered to 2
    assert log.hit("k", 1, WINDOW)[:4] == (0, 0, WINDOW, WINDOW)  # ... to 1: the second must leave


def test_denied_requests_do_not_consume() -> None:
    clock = Clock()
    log = LocalWindow(clock_us=clock, epoch_us=clock)
    for _ in range(2):
        log.hit("k", 2, 1000)
    for _ in range(50):
        assert log.hit("k", 2, 1000)[0] == 0
    clock.now += 1000
    assert log.hit("k", 2, 1000)[0] == 1


def test_keys_are_independent_and_memory_is_bounded() -> None:
    clock = Clock()
    log = LocalWindow(clock_us=clock, epoch_us=clock, max_keys=3)
    for name in "abc":
        assert log.hit(name, 1, 1000)[0] == 1
    assert log.hit("a", 1, 1000)[0] == 0
    clock.now += 1000  # every log is empty again: pruning may forget them
    assert log.hit("d", 1, 1000)[0] == 1
    assert len(log) == 1
    assert log.hit("a", 1, 1000)[0] == 1
