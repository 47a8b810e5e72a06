"""README.md stays true: the configuration table lists every setting with its real default."""

from __future__ import annotations

import re

import msgspec

from shared.config import PREFIX, Settings
from tests.helpers import REPO_ROOT

ROW = re.compile(r"^\| `(RINGREADY_[A-Z0-9_]+)` \| (.+?) \| .+ \|$")


def _documented() -> dict[str, str]:
    text = (REPO_ROOT / "README.md").read_text()
    return {m.group(1): m.group(2) for line in text.splitlines() if (m := ROW.match(line))}


def _as_env(value: object) -> str:
    """How a default is written in the table: as one would type it in the environment."""
    if value in ("", ()):
        return "*(empty)*"
    if isinstance(value, dict):
        return "`" + ",".join(f"{k}={v}" for k, v in value.items()) + "`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def test_every_setting_is_in_the_table_with_its_default() -> None:
    documented = _documented()
    defaults = msgspec.structs.asdict(Settings())
    expected = {PREFIX + name.upper(): _as_env(value) for name, value in defaults.items()}
    assert documented == expected


def test_the_two_commands_are_there_and_ci_runs_the_test_one() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "make up" in readme
    assert "make test" in readme
    assert "\nmake test\n" in ci
