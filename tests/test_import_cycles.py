"""No package has an import circle: read from the AST of every module of the project.

Every ``import`` counts, at module level and inside functions (a function-level import is a
dependency taken later, not a lighter one); only ``if TYPE_CHECKING:`` blocks are left out.
``from package import name`` depends on the module ``package.name`` where that is a module,
else on ``package`` itself. Importing a submodule is not counted as depending on its parent
package (every import of a submodule would otherwise join it to the package's circle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# directory -> the directory its import names are relative to
SOURCES = {"ringlib": ".", "legacy": "legacy", "codemods": "codemods", "cli": "cli", "parity": "parity"}


def _modules() -> dict[str, Path]:
    """Dotted name -> file of every module under the source directories that exist."""
    found = {}
    for folder, base in SOURCES.items():
        if not (ROOT / folder).is_dir():
            continue
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / base).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            if parts and all(p.isidentifier() for p in parts):
                found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Import statements anywhere in the tree except under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                stack.extend(child.orelse)  # the else branch runs
                continue
            stack.append(child)


def _targets(node, name: str, is_package: bool, modules) -> set[str]:
    """Project modules an import statement of module ``name`` depends on."""
    def known(dotted: str) -> str | None:  # the longest prefix that is a project module
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            if ".".join(parts[:end]) in modules:
                return ".".join(parts[:end])
        return None

    if isinstance(node, ast.Import):
        return {t for alias in node.names if (t := known(alias.name))}
    if node.level:
        package = name.split(".") if is_package else name.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    out = set()
    for alias in node.names:
        target = known(f"{base}.{alias.name}") if f"{base}.{alias.name}" in modules else known(base)
        if target:
            out.add(target)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"
        graph[name] = {t for node in _imports(tree) for t in _targets(node, name, is_package, modules)} - {name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return out


def _describe(component: list[str], graph) -> str:
    members = set(component)
    edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a] & members)]
    return "circle of " + ", ".join(component) + ":\n    " + "\n    ".join(edges)


def test_the_reader_finds_a_planted_circle(tmp_path, monkeypatch):
    """The check itself: a circle through a function-level and a relative import is found,
    one hidden under TYPE_CHECKING is not."""
    pkg = tmp_path / "ringlib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from ringlib import b\n")
    (pkg / "b.py").write_text("from . import a\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ringlib import a\n")
    (pkg / "d.py").write_text("import ringlib.c\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    graph = import_graph()
    assert graph["ringlib.c"] == set() and graph["ringlib.d"] == {"ringlib.c"}
    assert circles(graph) == [["ringlib.a", "ringlib.b"]]


@pytest.mark.parametrize("folder", [f for f in SOURCES if (ROOT / f).is_dir()])
def test_no_import_circle(folder):
    graph = import_graph()
    found = [c for c in circles(graph) if any(_modules()[m].is_relative_to(ROOT / folder) for m in c)]
    assert not found, "import circles:\n" + "\n".join(_describe(c, graph) for c in found)
