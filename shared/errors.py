"""Domain errors and the error envelope. The errors know nothing about HTTP: shared/middleware.py
maps them to statuses and renders every one as an ErrorBody."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import msgspec


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    """Every error: a human- and agent-readable message that names the field and the rule."""

    detail: str


class AppError(Exception):
    """Base of every error we expect; `detail` is safe to show to the caller."""

    code = "error"

    def __init_subclass__(cls, *, code: str | None = None, **kwargs: object) -> None:
        """An error names its stable `code` in its class line; a subclass without one keeps its parent's."""
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code

    def __init__(self, detail: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers: Mapping[str, str] = headers or {}


class InvalidInput(AppError, code="invalid_input"):
    """The request's body, parameters or headers break a documented rule (names the field)."""


class Unauthenticated(AppError, code="unauthenticated"):
    """Missing, invalid or revoked credentials (API key or webhook signature)."""


class Forbidden(AppError, code="forbidden"):
    """Valid credentials lacking the required scope."""


class NotFound(AppError, code="not_found"):
    """No such resource, or not the caller's."""


class Conflict(AppError, code="conflict"):
    """The write collides with existing state (e.g. a duplicate email)."""


class PreconditionFailed(AppError, code="precondition_failed"):
    """A conditional write whose condition no longer holds (the resource changed since it was read)."""


class PayloadTooLarge(AppError, code="payload_too_large"):
    """Body over the configured limit."""


class RateLimited(AppError, code="rate_limited"):
    """Over the key's (or the IP's) request budget."""

    def __init__(self, detail: str, retry_after_s: int, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail, headers=headers)
        self.retry_after_s = retry_after_s


class Unavailable(AppError, code="unavailable"):
    """A dependency we must not answer without (Redis for ingest) is down; the caller retries."""


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
