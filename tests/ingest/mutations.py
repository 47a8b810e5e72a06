"""Hypothesis strategies for the ingest property tests: a source's valid sample, mutated.

A mutation edits the decoded JSON tree (delete a field, give it a wrong type, an odd or huge
string, an out-of-range number or date, an empty or 10,000-turn transcript), or, through a
marker string replaced after encoding, puts bytes into the body that no JSON encoder would write
(invalid UTF-8, a lone surrogate escape, NUL, nesting thousands deep).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

Path = tuple[str | int, ...]
Draw = Callable[[st.SearchStrategy[Any]], Any]


@dataclass(frozen=True)
class Target:
    """One webhook source: its sample and where its transcript and times are."""

    path: str
    sample: dict[str, Any]
    transcript: Path
    times: tuple[Path, ...]  # ISO strings
    epochs: tuple[Path, ...]  # numbers


ODD_TEXT = ["\x00", "\ufeff", "\U0001f600", "\u202e", "e\u0301", "\uffff", "\u2028", "\x7f", "\\", '"', "ǅ"]
MIN_MAX_TIMES = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"]
ODD_TIMES = [
    *MIN_MAX_TIMES,
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59.999999Z",
    "2099-12-31T23:59:59.999999Z",
    "2100-01-01T00:00:00Z",
    "2025-02-12T11:06:31-23:59",
    "2025-02-30T00:00:00Z",
    "2025-02-12T11:06:31",
    "2025-02-12",
    "2025-02-12T23:59:60Z",
    "",
]
BIG_INTS = [2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30, -1, 0]
BIG_FLOATS = [1e308, -1e308, 5e-324, 1e19, -0.0, 4102444800000.0]

# Markers replaced by raw bytes once the tree is encoded (see encode()).
RAW = {
    "invalid_utf8": b"\xff\xfe",
    "truncated_utf8": b"\xe2\x82",
    "utf8_surrogate": b"\xed\xa0\x80",
    "lone_high_surrogate": b"\\ud800",
    "lone_low_surrogate": b"\\udfff",
    "nul_escape": b"\\u0000",
    "nul_raw": b"\x00",
}


def _marker(name: str) -> str:
    return f"\ue000{name}\ue000"


def times(draw: Draw) -> str:
    """An ISO time: a sentinel, an edge, or any instant with any offset."""
    if draw(st.booleans()):
        value: str = draw(st.sampled_from(ODD_TIMES))
        return value
    instant = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    minutes = draw(st.integers(-23 * 60 - 59, 23 * 60 + 59))
    return instant.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat()


def json_values(draw: Draw, depth: int = 0) -> Any:
    """Any JSON value, biased to the awkward ones."""
    kind = draw(st.integers(0, 9 if depth < 2 else 6))
    if kind == 0:
        return draw(st.sampled_from([None, True, False, 0, "", [], {}]))
    if kind == 1:
        return draw(st.integers() | st.sampled_from(BIG_INTS))
    if kind == 2:
        return draw(st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(BIG_FLOATS))
    if kind == 3:
        return draw(st.text(max_size=40))
    if kind == 4:
        return "".join(draw(st.lists(st.sampled_from(ODD_TEXT) | st.text(max_size=3), max_size=8)))
    if kind == 5:
        return times(draw)
    if kind == 6:
        return draw(
            st.sampled_from(["+15550100002", "anonymous", "sip:a@b", "+0 12", "1" * 30, "2001:db8::1"])
        )
    if kind == 7:
        return [json_values(draw, depth + 1) for _ in range(draw(st.integers(0, 3)))]
    keys = draw(st.lists(st.text(max_size=6) | st.sampled_from(ODD_TEXT), max_size=3))
    return {key: json_values(draw, depth + 1) for key in keys}


def _paths(node: Any, prefix: Path = ()) -> list[Path]:
    found: list[Path] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((*prefix, key))
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node[:5]):
            found.append((*prefix, index))
            found.extend(_paths(value, (*prefix, index)))
    return found


def _parent(tree: Any, path: Path) -> Any:
    for step in path[:-1]:
        tree = tree[step]
    return tree


def _exists(tree: Any, path: Path) -> bool:
    try:
        _parent(tree, path)[path[-1]]
    except (KeyError, IndexError, TypeError):
        return False
    return True


def _set(tree: Any, path: Path, value: Any) -> None:
    """Set the value at path if its parent is still there (an earlier mutation may have cut it)."""
    try:
        parent = _parent(tree, path)
    except (KeyError, IndexError, TypeError):
        return
    if isinstance(parent, dict) or (isinstance(parent, list) and _exists(tree, path)):
        parent[path[-1]] = value


def _mutate_once(draw: Draw, target: Target, tree: Any) -> None:
    op = draw(
        st.sampled_from(
            [
                "delete",
                "retype",
                "odd_string",
                "raw_bytes",
                "huge_string",
                "deep",
                "time",
                "epoch",
                "transcript",
                "extra",
            ]
        )
    )
    paths = _paths(tree)
    if op == "time" and target.times:
        _set(tree, draw(st.sampled_from(target.times)), times(draw))
    elif op == "epoch" and target.epochs:
        number = draw(
            st.integers() | st.sampled_from(BIG_INTS) | st.floats(allow_nan=False, allow_infinity=False)
        )
        _set(tree, draw(st.sampled_from(target.epochs)), number)
    elif op == "transcript" and _exists(tree, target.transcript):
        turns = _parent(tree, target.transcript)[target.transcript[-1]]
        size = draw(st.sampled_from([0, 1, 10_000]))
        model = turns[-1] if isinstance(turns, list) and turns else {}
        _set(tree, target.transcript, [copy.deepcopy(model) for _ in range(size)])
    elif op == "extra":
        tree[draw(st.text(max_size=8))] = json_values(draw)
    elif not paths:
        return
    else:
        path = draw(st.sampled_from(paths))
        parent = _parent(tree, path)
        if op == "delete":
            del parent[path[-1]]
        elif op == "retype":
            parent[path[-1]] = json_values(draw)
        elif op == "odd_string":
            current = parent[path[-1]]
            odd = "".join(draw(st.lists(st.sampled_from(ODD_TEXT), min_size=1, max_size=4)))
            parent[path[-1]] = (current + odd) if isinstance(current, str) else odd
        elif op == "raw_bytes":
            parent[path[-1]] = "a" + _marker(draw(st.sampled_from(sorted(RAW)))) + "b"
        elif op == "huge_string":
            parent[path[-1]] = "x" * draw(st.sampled_from([10_001, 100_000, 900_000]))
        else:  # deep
            parent[path[-1]] = _marker("deep" + str(draw(st.sampled_from([50, 500, 990, 1_500, 20_000]))))


_DEEP = re.compile(rb'"\xee\x80\x80deep(\d+)\xee\x80\x80"')
_LEFTOVER = re.compile(rb"\xee\x80\x80deep\d+\xee\x80\x80")


def encode(tree: Any) -> bytes:
    """The tree as a JSON body, each marker replaced by its raw bytes (or its deep nesting)."""
    body = json.dumps(tree, ensure_ascii=False).encode("utf-8", "surrogatepass")
    for name, raw in RAW.items():
        body = body.replace(_marker(name).encode(), raw)
    body = _DEEP.sub(lambda m: b"[" * int(m[1]) + b"]" * int(m[1]), body)
    return _LEFTOVER.sub(b"deep", body)  # a marker that a later mutation wrapped in more text


@st.composite
def mutated(draw: Draw, target: Target) -> bytes:
    """The target's sample with one to three mutations, encoded."""
    tree = copy.deepcopy(target.sample)
    for _ in range(draw(st.integers(1, 3))):
        _mutate_once(draw, target, tree)
    return encode(tree)
