"""When a failed delivery is tried again, and when an endpoint has failed for too long."""

from __future__ import annotations

import random

# Seconds to wait after the 1st, 2nd, ... failed attempt: Svix's schedule (docs/webhooks.md).
# After the last one fails the delivery is `failed` (about 27.6 hours after the event).
RETRY_DELAYS_S = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS_S) + 1
# Jitter only ever lengthens a delay, so the schedule is never faster than Svix's.
JITTER = 0.2
# A Retry-After longer than the longest step is capped at it: the receiver still gets its retries.
RETRY_AFTER_CAP_S = max(RETRY_DELAYS_S)


def retry_delay_s(attempts: int, *, scale: float, retry_after_s: float | None = None) -> float | None:
    """The wait before the next attempt after `attempts` failed ones; None when none is left.

    scale shrinks the schedule (tests); a Retry-After (429, 503) is honoured as a minimum, unscaled.
    """
    if attempts >= MAX_ATTEMPTS:
        return None
    delay = RETRY_DELAYS_S[attempts - 1] * scale * (1 + random.uniform(0, JITTER))  # noqa: S311 -- jitter, not a secret
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, RETRY_AFTER_CAP_S))
    return delay


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare for webhooks and read as absent)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
