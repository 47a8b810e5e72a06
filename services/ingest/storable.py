"""The last check before the queue: what the worker gets is what Postgres can hold.

Postgres text and jsonb cannot hold U+0000, so every NUL in a string that reaches a text or jsonb
column (metadata keys included) becomes U+FFFD. The queue is msgpack, which carries integers of
at most 64 bits, so a larger integer in provider metadata is refused, naming its field.

Both are rare, and both can only come from the body: a NUL only from the escape `\\u0000` (JSON
forbids the raw byte), a 65-bit integer only from a run of 19 or more digits. Bodies without
either pass untouched, at the cost of two scans of the raw bytes (a few µs).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from services.ingest.adapters.common import invalid
from shared.models import FinishedConversation

# `\u0000` preceded by an even number of backslashes: an escaped NUL, not an escaped backslash
# followed by the text "u0000".
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")
# A run of 19 or more digits, found as a run of zeros once every digit is a zero: ~4 µs for a 5 KB
# body where a `\d{19}` regex took ~60 µs (docs/BENCHMARKS.md, "Hardening (issue #11)").
_DIGITS_AS_ZEROS = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_NUMBER = b"0" * 19
# msgpack's integer range: int64 below zero, uint64 above.
INT_MIN, INT_MAX = -(2**63), 2**64 - 1

_json = msgspec.json.Encoder()
_conversation = msgspec.json.Decoder(FinishedConversation)
_msgpack = msgspec.msgpack.Encoder()

# Where each provider_metadata key comes from in the sender's body, so a 422 names the right field.
_METADATA_PATHS: dict[str, dict[str, str]] = {
    "vapi": {
        "structured_data": "message.analysis.structuredData",
        "success_evaluation": "message.analysis.successEvaluation",
        "cost": "message.cost",
    },
    "retell": {
        "custom_analysis_data": "call.call_analysis.custom_analysis_data",
        "metadata": "call.metadata",
    },
    "elevenlabs": {"cost": "data.metadata.cost"},
}


def _without_nul(conv: FinishedConversation) -> FinishedConversation:
    """Every NUL in every string (keys too, at any depth) as U+FFFD, in one pass over the JSON."""
    encoded = _json.encode(conv)
    return _conversation.decode(_NUL_ESCAPE.sub(rb"\1\\ufffd", encoded))


def _metadata_path(source: str, key: str) -> str:
    if source in ("phone", "web_chat"):
        return f"metadata.{key}"
    return _METADATA_PATHS.get(source, {}).get(key, f"provider_metadata.{key}")


def _find_big_int(value: Any, path: str) -> None:
    """Raise InvalidInput naming the first integer outside msgpack's range."""
    if isinstance(value, dict):
        for key, item in value.items():
            _find_big_int(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _find_big_int(item, f"{path}[{index}]")
    elif isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        raise invalid("Integer value out of range (more than 64 bits)", path)


def _check_integers(conv: FinishedConversation) -> None:
    try:
        _msgpack.encode(conv.provider_metadata)
    except OverflowError:
        for key, value in conv.provider_metadata.items():
            _find_big_int(value, _metadata_path(conv.source, key))
        raise  # not reached: the walk finds what msgpack refused


def storable(conv: FinishedConversation, body: bytes) -> FinishedConversation:
    """The conversation as the worker can store it (NUL -> U+FFFD), or InvalidInput naming a field."""
    if _LONG_NUMBER in body.translate(_DIGITS_AS_ZEROS):
        _check_integers(conv)
    if b"\\u0000" in body:
        return _without_nul(conv)
    return conv
