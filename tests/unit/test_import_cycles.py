"""No import cycles among crucible's modules (function-level and type-only imports too).

The graph is built from the source with :mod:`ast`, so an import inside a function or
under ``if TYPE_CHECKING:`` counts: either is a cycle waiting for a refactor to make it
real. Shared names go to a small leaf module instead (e.g. ``crucible.chem.base``,
``crucible.data.columns``, ``crucible.training.results``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def _module_names(root: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is package) of every module under ``root``."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        package = parts[-1] == "__init__"
        if package:
            parts = parts[:-1]
        modules[".".join(parts)] = (path, package)
    return modules


def _imported(node: ast.AST, name: str, package: bool) -> list[str]:
    """Modules (dotted, absolute) an ``import`` statement names; others: []."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        parent = name.split(".") if package else name.split(".")[:-1]
        parent = parent[: len(parent) - node.level + 1]
        base = ".".join(parent + ([node.module] if node.module else []))
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def import_graph(root: Path, prefix: str) -> dict[str, set[str]]:
    """Module -> modules it imports, for the modules of ``root`` named ``prefix...``.

    ``from package import submodule`` points at the submodule (not the package's
    ``__init__``); ``from module import name`` at the module.
    """
    modules = _module_names(root)
    graph: dict[str, set[str]] = {}
    for name, (path, package) in modules.items():
        if not name.startswith(prefix):
            continue
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            found = [m for m in _imported(node, name, package) if m in modules]
            submodules = [m for m in found[1:] if isinstance(node, ast.ImportFrom)]
            targets.update(submodules or found)
        graph[name] = targets - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_crucible_has_no_import_cycle() -> None:
    graph = import_graph(SRC, "crucible")
    assert len(graph) > 50 and "crucible.chem.components" in graph["crucible.chem.scoring"]
    assert cycles(graph) == [], "import cycles: move the shared names into a leaf module"


@pytest.mark.parametrize(
    ("a_source", "b_source"),
    [
        ("from pkg import b\n", "import pkg.a\n"),
        ("def f():\n    from pkg.b import g\n", "from pkg.a import f\n"),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n",
            "from . import a\n",
        ),
    ],
    ids=["module-level", "function-level", "type-only-relative"],
)
def test_a_cycle_is_found(tmp_path: Path, a_source: str, b_source: str) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(a_source)
    (package / "b.py").write_text(b_source)
    (package / "c.py").write_text("from pkg import a, b\n")
    assert cycles(import_graph(tmp_path, "pkg")) == [["pkg.a", "pkg.b"]]
