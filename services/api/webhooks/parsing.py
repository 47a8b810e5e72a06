"""Decode /api/v1/webhooks bodies and query strings into inputs.py Structs; errors name the field."""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec
from multidict import MultiMapping

from services.api.validation import single_values
from shared.errors import InvalidInput, undecodable_as_invalid

T = TypeVar("T", bound=msgspec.Struct)
_FIELD_IN_PATH = re.compile(r"`\$\.([A-Za-z_]+)")
_INTEGER = re.compile(r"[0-9]+")
# Written as plain digits: msgspec's lenient mode would also take "1e2", "2.0" or "null".
_INTEGER_PARAMS = frozenset({"after_id", "before_id", "limit"})
_decoders: dict[type, msgspec.json.Decoder] = {}  # type: ignore[type-arg]  # one per body Struct


def _field(err: msgspec.ValidationError, default: str) -> str:
    match = _FIELD_IN_PATH.search(str(err))
    return match.group(1) if match else default


def parse_body(body: bytes, shape: type[T]) -> T:
    """A JSON object of `shape`'s fields; unknown fields and broken rules are refused by name."""
    decoder = _decoders.setdefault(shape, msgspec.json.Decoder(shape))
    try:
        with undecodable_as_invalid():
            decoded: T = decoder.decode(body)
    except msgspec.ValidationError as err:
        raise InvalidInput(f"{_field(err, 'body')}: {err}") from None
    except msgspec.DecodeError:
        raise InvalidInput("body: is not valid JSON") from None
    return decoded


def parse_query(query: MultiMapping[str], shape: type[T]) -> T:
    """Query parameters of `shape`: each at most once, integers written as plain digits."""
    values = single_values(query, [field.name for field in msgspec.structs.fields(shape)])
    for name, value in values.items():
        if name in _INTEGER_PARAMS and not _INTEGER.fullmatch(value):
            raise InvalidInput(f"{name}: must be a positive integer")
    try:
        return msgspec.convert(values, shape, strict=False)
    except msgspec.ValidationError as err:
        raise InvalidInput(f"{_field(err, 'query')}: {err}") from None
