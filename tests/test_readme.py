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


def _map_section() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    start = text.index("## A newcomer's map")
    return text[start : text.index("\nMore: ", start)]


def _owners() -> list[str]:
    """Every service and every library module or package, as the map names them."""
    shared = REPO_ROOT / "shared"
    library = [
        f"{p.name}/" if p.is_dir() else p.name
        for p in sorted(shared.iterdir())
        if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").exists()
    ]
    services = [f"services/{p.name}/" for p in sorted((REPO_ROOT / "services").iterdir()) if p.is_dir()]
    tooling = [
        f"ops/{p.name}/" for p in sorted((REPO_ROOT / "ops").iterdir()) if (p / "__init__.py").exists()
    ]
    return [*services, "access/", *library, *tooling, "ops/runner.py"]


def test_the_newcomers_map_names_every_service_and_library_module() -> None:
    section = _map_section()
    missing = [name for name in _owners() if f"`{name}`" not in section]
    assert missing == [], f"README's map does not say what these own: {missing}"
