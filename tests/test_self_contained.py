"""The repo is self-contained: no tracked file points at a path outside it.

A fresh clone is all a user has, so code, docs and config may not read from or send readers to
a folder beside the repo, the team machines' work folder or someone's home directory. Naming a
document ("the API contract") is fine; a path to it that the clone does not hold is not.

The patterns spell their paths with `[/]` and `\\.` so that this file does not match itself.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

_BEFORE = r"(?<![\w.~/-])"  # not the tail of a longer path or of a URL
OUTSIDE: dict[str, re.Pattern[str]] = {
    "a folder beside the repo": re.compile(r"\.\.[/\\]+shared\b|[\"']\.\.[\"']\s*,\s*[\"']shared[\"']"),
    "a parent directory's shared folder": re.compile(r"\bparents?(?:\[\d+\])?\s*[/]\s*[\"']shared[\"']"),
    "the team machines' work folder": re.compile(_BEFORE + r"[/]work[/]"),
    "a home directory": re.compile(_BEFORE + r"(?:[/](?:home|Users|root)[/]\w|[A-Za-z]:\\Users\\)"),
}
# Relative paths into the team's reference folders (seeds, provider notes): an outside path
# unless the repo itself holds a file there.
REFERENCE_PATH = re.compile(_BEFORE + r"(?:seeds|providers|notes)[/][\w./-]*\w")


def tracked_text_files() -> dict[str, str]:
    """Every tracked file that is text (binary files hold a NUL byte or are not UTF-8)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.decode()
    texts = {}
    for name in filter(None, listed.split("\0")):
        data = (REPO_ROOT / name).read_bytes()
        if b"\0" in data:
            continue
        try:
            texts[name] = data.decode()
        except UnicodeDecodeError:
            continue
    return texts


def outside_paths(line: str, repo: Path = REPO_ROOT) -> list[str]:
    """What in this line points outside the repo, described; empty when nothing does."""
    found = [f"{what}: {m.group(0)!r}" for what, pattern in OUTSIDE.items() for m in pattern.finditer(line)]
    for m in REFERENCE_PATH.finditer(line):
        if not (repo / m.group(0)).exists():
            found.append(f"a reference folder not in the repo: {m.group(0)!r}")
    return found


def test_no_tracked_file_points_outside_the_repo() -> None:
    texts = tracked_text_files()
    assert {"Makefile", "README.md", "tests/helpers.py"} <= set(texts)  # the scan sees the tree
    hits = [
        f"{name}:{number}: {finding}"
        for name, text in sorted(texts.items())
        for number, line in enumerate(text.splitlines(), 1)
        for finding in outside_paths(line)
    ]
    assert hits == [], "\n".join(hits)


# "{s}" stands for "/" and "{d}" for ".." so that these examples do not trip the scan of this very file.
CAUGHT = [
    'REFERENCE = REPO_ROOT.parent {s} "shared"',
    'SAMPLE = BENCH.parent.parent {s} "shared" {s} "providers" {s} "vapi.json"',
    "ROOT = Path(__file__).parents[2] {s} 'shared'",
    'os.path.join(HERE, "{d}", "shared", "seeds")',
    "see ..{s}shared{s}providers{s}vapi.md",
    "arq is at-least-once (`{s}work{s}shared{s}notes{s}05-arq-delivery.md`)",
    "cd {s}work{s}wt{s}fixtures",
    "cache in {s}home{s}dev{s}.cache",
    "open {s}Users{s}sam{s}ringready",
    "The public contract is `seeds{s}ringready-developer-api-v1.txt`",
]
ALLOWED = [
    "from shared.config import Settings",
    "COPY shared ./shared",
    "`tests/shared/test_iso_times.py` checks the rendering",
    'FIXTURES = REPO_ROOT / "tests" / "fixtures"',
    "see https://example.com/work/items and https://example.com/home/page",
    "The public contract is the RingReady Developer API v1 document.",
    'settings = from_env({"PATH": "/bin", "HOME": "/root"})',
    "POST /webhooks/v1/phone, with --markdown /tmp/api.md",
    "the webhook samples in tests/fixtures/",
]


@pytest.mark.parametrize("line", CAUGHT)
def test_outside_paths_are_caught(line: str) -> None:
    assert outside_paths(line.format(s="/", d=".."))


@pytest.mark.parametrize("line", ALLOWED)
def test_paths_inside_the_repo_and_plain_words_are_allowed(line: str) -> None:
    assert outside_paths(line) == []
