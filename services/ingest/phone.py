"""Phone numbers to E.164: the form agents' numbers are stored in, so routing compares like with like."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-().]")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def to_e164(raw: str | None) -> str | None:
    """`+1 (555) 010-0001` -> `+15550100001`; None when the value is absent or not a phone number."""
    if raw is None:
        return None
    number = _SEPARATORS.sub("", raw)
    if number.startswith("00"):
        number = "+" + number[2:]
    elif not number.startswith("+"):
        # Providers send the country code; only the plus sign is sometimes missing.
        number = "+" + number
    return number if _E164.match(number) else None
