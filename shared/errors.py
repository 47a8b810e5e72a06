"""Domain errors. They know nothing about HTTP; shared/middleware.py maps them to statuses."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping


class AppError(Exception):
    """Base of every error we expect; `detail` is safe to show to the caller."""

    code = "error"

    def __init__(self, detail: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers: Mapping[str, str] = headers or {}


class InvalidInput(AppError):
    """The request's body, parameters or headers break a documented rule (names the field)."""

    code = "invalid_input"


class Unauthenticated(AppError):
    """Missing, invalid or revoked credentials (API key or webhook signature)."""

    code = "unauthenticated"


class Forbidden(AppError):
    """Valid credentials lacking the required scope."""

    code = "forbidden"


class NotFound(AppError):
    """No such resource, or not the caller's."""

    code = "not_found"


class Conflict(AppError):
    """The write collides with existing state (e.g. a duplicate email)."""

    code = "conflict"


class PayloadTooLarge(AppError):
    """Body over the configured limit."""

    code = "payload_too_large"


class RateLimited(AppError):
    """Over the key's (or the IP's) request budget."""

    code = "rate_limited"

    def __init__(self, detail: str, retry_after_s: int, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail, headers=headers)
        self.retry_after_s = retry_after_s


class Unavailable(AppError):
    """A dependency we must not answer without (Redis for ingest) is down; the caller retries."""

    code = "unavailable"


@contextlib.contextmanager
def undecodable_as_invalid() -> Iterator[None]:
    """Around a msgspec JSON decode of a client's body: msgspec raises UnicodeDecodeError for
    invalid UTF-8 inside a string and RecursionError for deep nesting, both the sender's fault."""
    try:
        yield
    except UnicodeDecodeError as err:
        raise InvalidInput(f"Invalid request body: not valid UTF-8 (byte {err.start})") from None
    except RecursionError:
        raise InvalidInput("Invalid request body: JSON nested too deeply") from None
