"""Argument types for the admin commands: each rejects bad input before anything is written."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime

from shared.keys import SCOPES

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_SEPARATORS = re.compile(r"[\s\-().]")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_RATE = re.compile(r"^(\d+)(?:/min)?$")
MAX_RATE_PER_MIN = 1_000_000  # far above any plan; keeps the value inside Postgres' integer
PROVIDER_SOURCES = ("vapi", "retell", "elevenlabs")


def email(value: str) -> str:
    """An address of the shape local@domain.tld."""
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise argparse.ArgumentTypeError(f"not an email address: {value!r}")
    return value


def phone(value: str) -> str:
    """E.164 (+ and 8-15 digits); spaces, dashes, dots and brackets are dropped."""
    number = _SEPARATORS.sub("", value)
    if not _E164.match(number):
        raise argparse.ArgumentTypeError(f"not an E.164 phone number (+ and 8-15 digits): {value!r}")
    return number


def scopes(value: str) -> tuple[str, ...]:
    """A non-empty comma-separated subset of read,write, in canonical order."""
    given = {item.strip() for item in value.split(",") if item.strip()}
    unknown = given - set(SCOPES)
    if not given or unknown:
        raise argparse.ArgumentTypeError(f"scopes must be a non-empty subset of read,write: {value!r}")
    return tuple(scope for scope in SCOPES if scope in given)


def rate_limit(value: str) -> int | None:
    """`N/min` or `N` with N >= 1, or `none` to fall back to the plan."""
    value = value.strip().lower()
    if value == "none":
        return None
    match = _RATE.match(value)
    if match is None or not 1 <= int(match.group(1)) <= MAX_RATE_PER_MIN:
        raise argparse.ArgumentTypeError(
            f"rate limit must be N/min with 1 <= N <= {MAX_RATE_PER_MIN}, or none: {value!r}"
        )
    return int(match.group(1))


def provider_id(value: str) -> tuple[str, str]:
    """SOURCE:ID, e.g. vapi:asst_123; routes a provider's assistant to the agent."""
    source, sep, ident = value.partition(":")
    if not sep or source not in PROVIDER_SOURCES or not ident.strip():
        raise argparse.ArgumentTypeError(
            f"provider id must be SOURCE:ID with SOURCE one of {', '.join(PROVIDER_SOURCES)}: {value!r}"
        )
    return source, ident.strip()


def positive_id(value: str) -> int:
    """A database id."""
    if not value.isdigit() or int(value) < 1 or int(value) > 2**63 - 1:
        raise argparse.ArgumentTypeError(f"not an id: {value!r}")
    return int(value)


def timestamp(value: str) -> datetime:
    """An ISO 8601 date or timestamp; without an offset it is UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 timestamp: {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def key_ref(value: str) -> str:
    """A key's numeric id or its display prefix (rr_live_xxxx)."""
    if value.isdigit() or re.fullmatch(r"rr_live_[A-Za-z0-9]{4}", value):
        return value
    raise argparse.ArgumentTypeError(f"expected a key id or a prefix like rr_live_8f3a: {value!r}")


def text(value: str) -> str:
    """A non-blank free-text value."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be blank")
    return value.strip()
