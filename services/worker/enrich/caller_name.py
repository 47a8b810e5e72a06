"""The caller's name when they state it ("my name is Dana", "this is Sam Lee")."""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD_PART = re.compile(r"[A-Za-z]+")  # O'brien -> O'Brien, anne-marie -> Anne-Marie
_NAME_WORD = r"[A-Za-z][A-Za-z'\-]{1,29}"
_PATTERNS = (
    re.compile(rf"\bmy name is ({_NAME_WORD}(?: {_NAME_WORD})?)", re.IGNORECASE),
    re.compile(rf"\bmy name's ({_NAME_WORD}(?: {_NAME_WORD})?)", re.IGNORECASE),
    re.compile(rf"\bthis is ({_NAME_WORD}(?: {_NAME_WORD})?)", re.IGNORECASE),
    re.compile(rf"\bi'?m ({_NAME_WORD}(?: {_NAME_WORD})?)", re.IGNORECASE),
    re.compile(rf"\bi am ({_NAME_WORD}(?: {_NAME_WORD})?)", re.IGNORECASE),
    re.compile(rf"\bit'?s ({_NAME_WORD}) (?:here|calling|speaking)\b", re.IGNORECASE),
)
# "I'm calling", "this is urgent", "I am looking" are not names; a second word is dropped
# when it is one of these too ("this is Dana calling").
_WORDS = """a an the just not so very really calling looking trying wondering interested here there
    back still sorry fine good great ok okay okey well hoping going getting having about after
    from with your you me my our this that it is was urgent new glad happy afraid sure ready
    available free busy done wanting needing asking phoning ringing speaking reaching following
    checking hi hello hey yes yeah no thanks thank please actually also only currently on in at
    for to of and or but"""
_NOT_NAMES = frozenset(_WORDS.split())


def _clean(candidate: str) -> str | None:
    words = candidate.split()
    if not words or words[0].lower() in _NOT_NAMES:
        return None
    kept = [words[0]] + [w for w in words[1:2] if w.lower() not in _NOT_NAMES]
    return " ".join(_WORD_PART.sub(lambda m: m.group(0).capitalize(), word) for word in kept)


def extract_caller_name(caller_turns: Iterable[str]) -> str | None:
    """The first name the caller gives for themselves, title-cased; None when they don't."""
    for text in caller_turns:
        for pattern in _PATTERNS:
            for match in pattern.finditer(text):
                name = _clean(match.group(1))
                if name is not None:
                    return name
    return None
