"""The tree's size rules (issue #12): no production module over 250 lines, no function over 50."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO_ROOT

MAX_MODULE_LINES = 250
MAX_FUNCTION_LINES = 50
# What the services run; tests/, bench/ and deploy/ are tooling around it.
PRODUCTION_ROOTS = ("shared", "services", "ops")


def production_modules() -> list[Path]:
    roots = [REPO_ROOT / name for name in PRODUCTION_ROOTS if (REPO_ROOT / name).is_dir()]
    return sorted(path for root in roots for path in root.rglob("*.py"))


def long_functions(path: Path) -> list[str]:
    """Every function or method (nested ones too) longer than the limit, as path:line name (length)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_the_production_tree_is_found() -> None:
    modules = {path.relative_to(REPO_ROOT).as_posix() for path in production_modules()}
    assert {"shared/config.py", "services/api/app.py", "services/worker/jobs.py"} <= modules


def test_no_production_module_is_over_250_lines() -> None:
    too_long = [
        f"{path.relative_to(REPO_ROOT)} ({lines} lines)"
        for path in production_modules()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert too_long == [], f"split these by concern: {too_long}"


def test_no_production_function_is_over_50_lines() -> None:
    assert [found for path in production_modules() for found in long_functions(path)] == []
