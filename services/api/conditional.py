"""Conditional requests (RFC 9110 section 13): strong ETags, If-None-Match on reads (304), If-Match
on the agent PATCH (412)."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import NamedTuple

from aiohttp import web

from shared.errors import InvalidInput

# The header grammar (RFC 9110 8.8.3, 13.1.1-2): "*", or a comma-separated list of entity tags, each
# optionally weak (W/) and quoted, of visible ASCII other than the quote; space or tab around them
# (what an HTTP parser may leave or strip). The same text is the headers' `pattern` in openapi.json
# (it reads the same in Python and ECMA-262), so what a schema fuzzer calls invalid is exactly what
# we refuse with 422.
_ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e]*"'
_OWS = r"[ \t]*"
CONDITION_PATTERN = rf"^{_OWS}(?:\*|{_ENTITY_TAG}(?:{_OWS},{_OWS}{_ENTITY_TAG})*){_OWS}$"
_CONDITION = re.compile(CONDITION_PATTERN)
_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e]*)"')
CONDITION_RULE = 'must be * or a comma-separated list of entity tags such as "3f9a..." or W/"3f9a..."'


class EntityTag(NamedTuple):
    """One entity tag of a condition header: its opaque text (without quotes) and whether it is weak."""

    opaque: str
    weak: bool


class Condition(NamedTuple):
    """An If-Match or If-None-Match header: any current representation ("*"), or these tags."""

    any: bool
    tags: tuple[EntityTag, ...]


def condition(request: web.Request, header: str) -> Condition | None:
    """The header's condition, None if it wasn't sent; 422 naming it if it breaks the grammar."""
    raw = request.headers.get(header)
    if raw is None:
        return None
    if not _CONDITION.fullmatch(raw):
        raise InvalidInput(f"{header}: {CONDITION_RULE}")
    if raw.strip(" \t") == "*":
        return Condition(any=True, tags=())
    return Condition(any=False, tags=tuple(EntityTag(m[2], bool(m[1])) for m in _TAG.finditer(raw)))


def quoted(opaque: str) -> str:
    """The ETag header's value: a strong entity tag."""
    return f'"{opaque}"'


def body_tag(body: bytes) -> str:
    """A strong tag for exactly these bytes (SHA-256's first 128 bits, base64url): it changes when
    any byte of the representation does, whatever changed it (a worker's enrichment, a migration).
    SHA-256 over BLAKE2b: CPUs with SHA extensions hash it faster (1.5x here)."""
    digest = hashlib.sha256(body).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def none_match(request: web.Request, opaque: str) -> bool:
    """If-None-Match fails (the client's copy is current, so 304): weak comparison, "*" matches any.
    A header outside the grammar is ignored (a full answer), as a cache that can't parse it would."""
    try:
        sent = condition(request, "If-None-Match")
    except InvalidInput:
        return False
    if sent is None:
        return False
    return sent.any or any(tag.opaque == opaque for tag in sent.tags)


def strong_tags(sent: Condition) -> list[str]:
    """What If-Match can match: strong comparison, so its weak tags never do."""
    return [tag.opaque for tag in sent.tags if not tag.weak]


# A client (or a private cache) may keep a tagged answer but must revalidate it before each use;
# shared caches must not keep it (it is one account's data).
REVALIDATE = "private, no-cache"


def tagged(response: web.Response, opaque: str) -> web.Response:
    """The response with its ETag, and leave to keep it if revalidated."""
    response.headers["ETag"] = quoted(opaque)
    response.headers["Cache-Control"] = REVALIDATE
    return response


def not_modified(opaque: str) -> web.Response:
    """304: no body, the ETag the client already holds (RFC 9110 15.4.5)."""
    return tagged(web.Response(status=304), opaque)


def conditional_get(request: web.Request, response: web.Response, opaque: str) -> web.Response:
    """A read's answer: 304 if If-None-Match names its tag, else the response itself, tagged."""
    if none_match(request, opaque):
        return not_modified(opaque)
    return tagged(response, opaque)


def body_tagged_get(request: web.Request, response: web.Response) -> web.Response:
    """conditional_get with the tag of the response's own body (a representation with no version)."""
    if not isinstance(response.body, bytes):
        raise TypeError("a tagged response needs a bytes body")
    return conditional_get(request, response, body_tag(response.body))
