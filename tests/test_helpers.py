"""eventually(): the one way tests wait for something."""

from __future__ import annotations

import time

import pytest

from tests.helpers import eventually


async def test_returns_the_first_truthy_answer() -> None:
    answers = iter([None, 0, "", "ready", "later"])

    async def next_answer() -> str | int | None:
        return next(answers)

    assert await eventually(next_answer, 5, "an answer", every_s=0.01) == "ready"


async def test_times_out_naming_what_it_waited_for_with_the_state_at_the_deadline() -> None:
    checks = 0

    async def never() -> bool:
        nonlocal checks
        checks += 1
        return False

    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"after 0.2 s waiting for never \(checked \d+ times\)"):
        await eventually(never, 0.2, lambda: f"never (checked {checks} times)", every_s=0.01)
    assert 0.2 <= time.monotonic() - started < 1.0
    assert checks > 1


async def test_a_retried_error_counts_as_not_yet_and_is_raised_at_the_deadline() -> None:
    attempts = 0

    async def flaky() -> int:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError(f"attempt {attempts}")
        return attempts

    assert await eventually(flaky, 5, "a connection", every_s=0.01, retrying=(ConnectionError,)) == 3

    async def broken() -> int:
        raise ConnectionError("still down")

    with pytest.raises(ConnectionError, match="still down"):
        await eventually(broken, 0.1, "a connection", every_s=0.01, retrying=(ConnectionError,))


async def test_an_error_not_retried_fails_at_once() -> None:
    async def wrong() -> bool:
        raise ValueError("not a wait")

    started = time.monotonic()
    with pytest.raises(ValueError, match="not a wait"):
        await eventually(wrong, 5, "anything", retrying=(ConnectionError,))
    assert time.monotonic() - started < 1.0
