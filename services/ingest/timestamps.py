"""Provider time formats to aware UTC datetimes, within the window the store can hold.

asyncpg writes Python's datetime.min and datetime.max (0001-01-01T00:00:00Z and
9999-12-31T23:59:59.999999Z) as -infinity and infinity, which the ISO-text columns refuse, and a
span of centuries overflows the integer `duration_seconds`. So every time must lie in the window
below and a conversation may last at most MAX_DURATION_S; anything else is a 422 naming the field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.ingest.adapters.common import invalid
from shared.errors import InvalidInput

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_EARLIEST_S, _LATEST_S = EARLIEST.timestamp(), LATEST.timestamp()
# duration_seconds is a Postgres integer.
MAX_DURATION_S = 2**31 - 1


def _outside(path: str) -> InvalidInput:
    return invalid("time must lie between 1970-01-01T00:00:00Z and 2100-01-01T00:00:00Z", path)


def in_window(value: datetime, path: str) -> datetime:
    """The aware UTC time itself, or InvalidInput naming `path`."""
    if not EARLIEST <= value < LATEST:
        raise _outside(path)
    return value


def from_epoch_ms(value: float, path: str) -> datetime:
    """Epoch milliseconds (Vapi, Retell) as UTC."""
    return from_epoch_s(value / 1000, path)


def from_epoch_s(value: float, path: str) -> datetime:
    """Epoch seconds (ElevenLabs, Standard Webhooks) as UTC."""
    # Checked before conversion: fromtimestamp overflows far outside the window.
    if not _EARLIEST_S <= value < _LATEST_S:
        raise _outside(path)
    return datetime.fromtimestamp(value, tz=UTC)


def as_utc(value: datetime, path: str) -> datetime:
    """Any datetime as UTC; naive ones are taken to be UTC already."""
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # an offset moved it past year 1 or 9999
        raise _outside(path) from None
    return in_window(utc, path)


def plus_seconds(start: datetime, seconds: float, path: str) -> datetime:
    """`start` + a provider's duration in seconds, within the window."""
    if not -MAX_DURATION_S < seconds < MAX_DURATION_S:
        raise invalid(f"a duration must lie within ±{MAX_DURATION_S} seconds", path)
    return in_window(start + timedelta(seconds=seconds), path)


def check_span(started: datetime, ended: datetime, path: str) -> None:
    """The stored duration (ended - started) must fit its integer column."""
    if (ended - started).total_seconds() >= MAX_DURATION_S:
        raise invalid(f"a conversation may last at most {MAX_DURATION_S} seconds", path)
