"""What every adapter returns: a canonical conversation, or the reason an event is ignored."""

from __future__ import annotations

import msgspec

from shared.errors import InvalidInput
from shared.models import FinishedConversation


class Ignored(msgspec.Struct, frozen=True):
    """A well-formed event we do not store (e.g. Vapi status-update): answered 200, not queued."""

    reason: str


Adapted = FinishedConversation | Ignored


def invalid(message: str, path: str) -> InvalidInput:
    """A 422 in the same words msgspec uses, so every detail names the field the same way ("" is the root)."""
    return InvalidInput(f"Invalid request body: {message} - at `{'$.' + path if path else '$'}`")
