"""Decode query strings and bodies into inputs.py Structs; every error names the field and the rule."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC

import msgspec

from services.api.inputs import PATCH_RULES, QUERY_RULES, AgentPatch, ListQuery
from shared.errors import InvalidInput

_FIELD_IN_PATH = re.compile(r"`\$\.([A-Za-z_]+)")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_patch_decoder = msgspec.json.Decoder(AgentPatch)
_object_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])
_WRITABLE = ", ".join(PATCH_RULES)


def _field_of(err: msgspec.ValidationError) -> str | None:
    """The top-level field a msgspec error points at (`$.faq[...]` -> faq)."""
    match = _FIELD_IN_PATH.search(str(err))
    return match.group(1) if match else None


def parse_list_query(query: Mapping[str, str]) -> ListQuery:
    """The list's query parameters; unknown ones are refused so a typo'd cursor can't loop forever."""
    raw = dict(query)
    for name in raw:
        if name not in QUERY_RULES:
            raise InvalidInput(f"{name}: unknown query parameter; allowed: {', '.join(QUERY_RULES)}")
    since = raw.get("since")
    if since is not None and _DATE_ONLY.match(since):
        raw["since"] = f"{since}T00:00:00Z"
    try:
        params = msgspec.convert(raw, ListQuery, strict=False)
    except msgspec.ValidationError as err:
        field = _field_of(err) or "query"
        raise InvalidInput(f"{field}: {QUERY_RULES.get(field, str(err))}") from None
    if params.since is not None and params.since.tzinfo is None:
        params = msgspec.structs.replace(params, since=params.since.replace(tzinfo=UTC))
    return params


def parse_agent_patch(body: bytes) -> tuple[list[str], AgentPatch]:
    """The PATCH body and the fields it sends, in the order sent."""
    try:
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
    try:
        patch = _patch_decoder.decode(body)
    except msgspec.ValidationError as err:
        field = _field_of(err)
        if field in PATCH_RULES:
            raise InvalidInput(f"{field}: {PATCH_RULES[field]}") from None
        raise InvalidInput(f"body: {err}") from None
    return list(dict.fromkeys(sent)), patch
