"""Provider time formats to aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def from_epoch_ms(value: float) -> datetime:
    """Epoch milliseconds (Vapi, Retell) as UTC."""
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def from_epoch_s(value: float) -> datetime:
    """Epoch seconds (ElevenLabs, Standard Webhooks) as UTC."""
    return datetime.fromtimestamp(value, tz=UTC)


def as_utc(value: datetime) -> datetime:
    """Any aware datetime as UTC; naive ones are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
