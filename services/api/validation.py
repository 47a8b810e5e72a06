"""Decode query strings and bodies into inputs.py Structs; every error names the field and the rule."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, datetime
from typing import TypeVar

import msgspec
from multidict import MultiMapping

from services.api.inputs import (
    LINE_FIELDS,
    PATCH_RULES,
    QUERY_RULES,
    SYNC_RULES,
    AgentPatch,
    ListQuery,
    SyncQuery,
)
from shared.errors import InvalidInput, undecodable_as_invalid

T = TypeVar("T")
_FIELD_IN_PATH = re.compile(r"`\$\.([A-Za-z_]+)")
# The query's value syntax, checked before msgspec converts (its lenient string mode would also
# take "null" for absent, "1e2" or "2.0" for an integer and a Unix time for a timestamp).
_INTEGER = re.compile(r"[0-9]+")
_SINCE = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?P<time>[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?)?"
)
_INTEGER_PARAMS = ("agent_id", "before_id", "limit")
# Literally "null": a caller's null stringified into the query, not a search (the word is `"null"`).
_STRINGIFIED_NULL = "null"
_CHANNELS = ("phone", "web_chat")
_patch_decoder = msgspec.json.Decoder(AgentPatch)
_object_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])
_WRITABLE = ", ".join(PATCH_RULES)


def _field_of(err: msgspec.ValidationError) -> str | None:
    """The top-level field a msgspec error points at (`$.faq[...]` -> faq)."""
    match = _FIELD_IN_PATH.search(str(err))
    return match.group(1) if match else None


def _refuse(name: str) -> InvalidInput:
    return InvalidInput(f"{name}: {QUERY_RULES[name]}")


def single_values(query: MultiMapping[str], allowed: Collection[str]) -> dict[str, str]:
    """Each allowed parameter's one value: unknown or repeated parameters are refused by name."""
    values: dict[str, str] = {}
    for name, value in query.items():
        if name not in allowed:
            raise InvalidInput(f"{name}: unknown query parameter; allowed: {', '.join(allowed)}")
        if name in values:
            raise InvalidInput(f"{name}: given more than once; send each parameter at most once")
        values[name] = value
    return values


def parse_since(raw: str) -> datetime:
    """An RFC 3339 timestamp, a timestamp without offset (UTC) or a date (midnight UTC), in UTC."""
    match = _SINCE.fullmatch(raw)
    if match is None:
        raise _refuse("since")
    text = raw if match["time"] else f"{raw}T00:00:00Z"
    try:
        since = msgspec.convert(text, datetime)
    except msgspec.ValidationError:
        raise _refuse("since") from None
    if since.tzinfo is None:
        return since.replace(tzinfo=UTC)
    try:
        return since.astimezone(UTC)
    except OverflowError:
        # A valid timestamp whose UTC instant is before year 1 or after 9999 (e.g. 0001-01-01T00:00
        # +01:00): it bounds the list as the nearest instant Python can hold would, all or nothing.
        return (datetime.min if since.year == 1 else datetime.max).replace(tzinfo=UTC)


def _checked_query(query: MultiMapping[str], rules: dict[str, str]) -> dict[str, str]:
    """The single values of the rules' parameters, integers and channel already held to their syntax."""
    raw = single_values(query, rules)
    for name in _INTEGER_PARAMS:
        if name in raw and not _INTEGER.fullmatch(raw[name]):
            raise InvalidInput(f"{name}: {rules[name]}")
    if "channel" in raw and raw["channel"] not in _CHANNELS:
        raise InvalidInput(f"channel: {rules['channel']}")
    return raw


def _convert(raw: dict[str, str], shape: type[T], rules: dict[str, str]) -> T:
    """The query Struct; a rule broken names its field."""
    try:
        return msgspec.convert(raw, shape, strict=False)
    except msgspec.ValidationError as err:
        field = _field_of(err) or "query"
        raise InvalidInput(f"{field}: {rules.get(field, str(err))}") from None


def parse_list_query(query: MultiMapping[str]) -> ListQuery:
    """The list's query parameters; unknown, repeated or loosely written ones are refused, so a typo'd
    or stringified cursor fails loudly instead of restarting the list forever."""
    raw = _checked_query(query, QUERY_RULES)
    # q's pattern can't refuse a final line feed the same way in Python and ECMA (see LINE_FIELDS).
    if "q" in raw and ("\n" in raw["q"] or raw["q"] == _STRINGIFIED_NULL):
        raise _refuse("q")
    since = parse_since(raw.pop("since")) if "since" in raw else None
    return msgspec.structs.replace(_convert(raw, ListQuery, QUERY_RULES), since=since)


def parse_sync_query(query: MultiMapping[str]) -> SyncQuery:
    """The sync's query parameters, as strictly as the list's (the cursor is decoded by the caller)."""
    return _convert(_checked_query(query, SYNC_RULES), SyncQuery, SYNC_RULES)


def _sent_fields(body: bytes) -> list[str]:
    """The body's top-level names, in the order sent; each must be writable."""
    try:
        with undecodable_as_invalid():
            sent = list(_object_decoder.decode(body))
    except msgspec.ValidationError:
        raise InvalidInput("body: must be a JSON object of the fields to change") from None
    except msgspec.DecodeError:
        raise InvalidInput("body: is not valid JSON") from None
    for name in sent:
        if name not in PATCH_RULES:
            raise InvalidInput(
                f"{name}: is not writable through the API (managed in the dashboard or unknown); "
                f"writable fields: {_WRITABLE}"
            )
    return sent


def _refuse_line_feeds(patch: AgentPatch) -> None:
    """One-line fields hold no line feed (their pattern can't say so the same way in Python and ECMA)."""
    for name in LINE_FIELDS:
        value = getattr(patch, name)
        if isinstance(value, str) and "\n" in value:
            raise InvalidInput(f"{name}: {PATCH_RULES[name]}")
    if isinstance(patch.faq, dict) and any("\n" in question for question in patch.faq):
        raise InvalidInput(f"faq: {PATCH_RULES['faq']}")


def parse_agent_patch(body: bytes) -> tuple[list[str], AgentPatch]:
    """The PATCH body and the fields it sends, in the order sent."""
    sent = _sent_fields(body)
    try:
        with undecodable_as_invalid():
            patch = _patch_decoder.decode(body)
    except msgspec.ValidationError as err:
        field = _field_of(err)
        if field in PATCH_RULES:
            raise InvalidInput(f"{field}: {PATCH_RULES[field]}") from None
        raise InvalidInput(f"body: {err}") from None
    _refuse_line_feeds(patch)
    return list(dict.fromkeys(sent)), patch
