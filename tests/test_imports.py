"""The import graph of our packages: no cycles, and the library never depends on the tooling.

Read from the source with `ast` (nothing is imported), so an import inside a function counts too:
a cycle hidden behind a lazy import is still a cycle a reader has to untangle. Imports under
`if TYPE_CHECKING:` are left out: they name a type for mypy and load nothing at run time (the
API's typedefs.py types its keys with the access package's classes that way).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO_ROOT

PACKAGES = ("shared", "services", "ops")
LIBRARY = ("shared", "services")  # what the services run; `ops` is what operators and developers run

Graph = dict[str, set[str]]


def module_name(root: Path, path: Path) -> str:
    """`ops/cli/main.py` -> `ops.cli.main`; `ops/cli/__init__.py` -> `ops.cli`."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """Every dotted name one import statement may load: the modules and `module.name` candidates."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: strip the module's own name (not a package's) and one part per extra dot
        anchor = module.split(".")[: len(module.split(".")) - (node.level - (1 if is_package else 0))]
        base = ".".join([*anchor, base] if base else anchor)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def _ours(name: str, modules: set[str]) -> str | None:
    """The module of ours that importing `name` loads: itself or its nearest parent we have."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(node: ast.If) -> bool:
    """`if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`)."""
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_graph(root: Path, packages: tuple[str, ...] = PACKAGES) -> Graph:
    """module -> the modules of ours it imports, at any depth of its source."""
    files = {module_name(root, path): path for package in packages for path in (root / package).rglob("*.py")}
    graph: Graph = {}
    for module, path in files.items():
        targets: set[str] = set()
        tree = ast.parse(path.read_text(), str(path))
        type_only = {
            id(n)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and _is_type_checking(block)
            for statement in block.body  # an `else:` branch runs
            for n in ast.walk(statement)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in type_only:
                for name in _imported(node, module, path.name == "__init__.py"):
                    target = _ours(name, set(files))
                    if target is not None and target != module:
                        targets.add(target)
        graph[module] = targets
    return graph


def find_cycle(graph: Graph) -> list[str]:
    """One import cycle as [a, b, ..., a], or [] when the graph has none (depth-first search)."""
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str]:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return []
        path.append(module)
        for target in sorted(graph.get(module, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(module)
        return []

    for module in sorted(graph):
        cycle = visit(module)
        if cycle:
            return cycle
    return []


def imports_of_tooling(graph: Graph, library: tuple[str, ...] = LIBRARY) -> list[str]:
    """`importer -> imported` for every library module that imports `ops`."""
    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if module.split(".")[0] in library
        for target in targets
        if target.split(".")[0] == "ops"
    )


def test_our_packages_import_each_other_without_a_cycle() -> None:
    graph = import_graph(REPO_ROOT)
    # It sees the tree and its imports:
    assert {"shared.config", "ops.cli.main", "ops.cli.up", "services.api.app"} <= set(graph)
    assert "ops.runner" in graph["ops.cli.up"]
    assert find_cycle(graph) == []


def test_the_library_never_imports_the_tooling() -> None:
    assert imports_of_tooling(import_graph(REPO_ROOT)) == []


def _tree(root: Path, sources: dict[str, str]) -> Path:
    for name, text in sources.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_cycle_through_a_lazy_import_is_found(tmp_path: Path) -> None:
    # The shape `main.py` and `up.py` had: a top-level import one way, a function-level one back.
    root = _tree(
        tmp_path,
        {
            "ops/__init__.py": "",
            "ops/main.py": "def cmd_up():\n    from ops.up import run_up\n    return run_up()\n",
            "ops/up.py": "from ops.main import SERVICE_MODULES\n",
        },
    )
    assert find_cycle(import_graph(root, ("ops",))) in (
        ["ops.main", "ops.up", "ops.main"],
        ["ops.up", "ops.main", "ops.up"],
    )


def test_a_relative_cycle_is_found_and_a_chain_is_not(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "shared/__init__.py": "",
            "shared/a.py": "from . import b\n",
            "shared/b.py": "from .c import x\n",
            "shared/c.py": "x = 1\n",
        },
    )
    assert find_cycle(import_graph(root, ("shared",))) == []
    (root / "shared" / "c.py").write_text("from .a import y\n")
    assert find_cycle(import_graph(root, ("shared",))) == ["shared.a", "shared.b", "shared.c", "shared.a"]


def test_a_type_only_import_back_is_no_cycle_but_its_else_branch_is(tmp_path: Path) -> None:
    keys = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from services.gate import Cache\n"
    root = _tree(
        tmp_path,
        {
            "services/__init__.py": "",
            "services/keys.py": keys,
            "services/gate.py": "from services.keys import cache_key\n",
        },
    )
    assert find_cycle(import_graph(root, ("services",))) == []
    (root / "services" / "keys.py").write_text(keys + "else:\n    import services.gate\n")
    assert find_cycle(import_graph(root, ("services",))) in (
        ["services.gate", "services.keys", "services.gate"],
        ["services.keys", "services.gate", "services.keys"],
    )


def test_a_library_module_importing_the_tooling_is_named(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "shared/__init__.py": "",
            "shared/web.py": "import ops.embedded.process\n",
            "services/__init__.py": "",
            "services/api.py": "from ops import runner\n",
            "ops/__init__.py": "",
            "ops/runner.py": "from shared import web\n",
            "ops/embedded/__init__.py": "",
            "ops/embedded/process.py": "",
        },
    )
    assert imports_of_tooling(import_graph(root)) == [
        "services.api -> ops",
        "services.api -> ops.runner",
        "shared.web -> ops.embedded.process",
    ]
