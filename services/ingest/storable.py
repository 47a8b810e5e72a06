"""The last check before the queue: what the worker gets is what Postgres can hold.

Postgres text and jsonb cannot hold U+0000, so every NUL in a string that reaches a text or jsonb
column (metadata keys included) becomes U+FFFD. The queue is msgpack, which carries integers of
at most 64 bits, so a larger integer in provider metadata is refused, naming its field.
"""

from __future__ import annotations

from typing import Any

import msgspec

from services.ingest.adapters.common import invalid
from shared.models import FinishedConversation, Turn

NUL = "\x00"
REPLACEMENT = "\ufffd"
# msgpack's integer range: int64 below zero, uint64 above.
INT_MIN, INT_MAX = -(2**63), 2**64 - 1

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


def _text(value: str) -> str:
    return value.replace(NUL, REPLACEMENT) if NUL in value else value


def _json(value: Any, path: str) -> Any:
    """A decoded JSON value with NULs replaced; raises for an integer the queue cannot carry."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return {_text(key): _json(item, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_json(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        raise invalid("Integer value out of range (more than 64 bits)", path)
    return value


def _struct_texts(obj: Any) -> Any:
    """The struct with NULs replaced in its string fields (itself when there are none)."""
    changes = {
        name: _text(value)
        for name in obj.__struct_fields__
        if isinstance(value := getattr(obj, name), str) and NUL in value
    }
    return msgspec.structs.replace(obj, **changes) if changes else obj


def _metadata_path(source: str, key: str) -> str:
    if source in ("phone", "web_chat"):
        return f"metadata.{key}"
    return _METADATA_PATHS.get(source, {}).get(key, f"provider_metadata.{key}")


def storable(conv: FinishedConversation) -> FinishedConversation:
    """The conversation as the worker can store it (NUL -> U+FFFD), or InvalidInput naming a field."""
    transcript: list[Turn] = [_struct_texts(turn) for turn in conv.transcript]
    metadata = {
        _text(key): _json(value, _metadata_path(conv.source, key))
        for key, value in conv.provider_metadata.items()
    }
    cleaned: FinishedConversation = _struct_texts(conv)
    return msgspec.structs.replace(cleaned, transcript=transcript, provider_metadata=metadata)
