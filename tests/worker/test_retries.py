"""Which failures are transient, and the backoff between transient retries."""

from __future__ import annotations

import asyncpg
import pytest
import redis.exceptions

from services.worker.retries import BACKOFF_BASE_S, BACKOFF_CAP_S, backoff_s, is_transient


@pytest.mark.parametrize(
    "err",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        asyncpg.CannotConnectNowError(),
        asyncpg.AdminShutdownError(),
        asyncpg.TooManyConnectionsError(),
        asyncpg.DeadlockDetectedError(),
        asyncpg.exceptions.ConnectionDoesNotExistError(),
        redis.exceptions.ConnectionError(),
        redis.exceptions.TimeoutError(),
    ],
)
def test_servers_away_are_transient(err: BaseException) -> None:
    assert is_transient(err)


@pytest.mark.parametrize(
    "err",
    [
        ValueError("bad event"),
        asyncpg.UniqueViolationError(),
        asyncpg.CharacterNotInRepertoireError(),  # a NUL in text: retrying will not help
        redis.exceptions.ResponseError(),
    ],
)
def test_bad_data_is_not_transient(err: BaseException) -> None:
    assert not is_transient(err)


def test_backoff_doubles_from_base_to_cap_with_jitter() -> None:
    for attempt, delay in [
        (0, BACKOFF_BASE_S),
        (1, BACKOFF_BASE_S),
        (2, 2 * BACKOFF_BASE_S),
        (3, 4 * BACKOFF_BASE_S),
    ]:
        waits = [backoff_s(attempt) for _ in range(200)]
        assert delay <= min(waits) and max(waits) <= delay * 1.2
        assert len(set(waits)) > 1  # jittered, not in lockstep
    assert BACKOFF_CAP_S <= backoff_s(50) <= BACKOFF_CAP_S * 1.2
