"""What every adapter returns: a canonical conversation, or the reason an event is ignored."""

from __future__ import annotations

from typing import Annotated

import msgspec

from shared.errors import InvalidInput
from shared.models import FinishedConversation

# A provider's call id: with the source, the key of the conversations' unique index, whose entries
# Postgres caps at ~8 KB. Provider ids are UUIDs or 32-character strings; ours allow 255 too.
CallId = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]


class Ignored(msgspec.Struct, frozen=True):
    """A well-formed event we do not store (e.g. Vapi status-update): answered 200, not queued."""

    reason: str


Adapted = FinishedConversation | Ignored


def invalid(message: str, path: str) -> InvalidInput:
    """A 422 in the same words msgspec uses, so every detail names the field the same way ("" is the root)."""
    return InvalidInput(f"Invalid request body: {message} - at `{'$.' + path if path else '$'}`")
