"""The package boundaries, read from the code's syntax trees (never by grepping prose).

* the core (``ringlib/``) names no old class of the registry and imports none of the
  migration wing, libcst, typer or rich;
* ``ringlib_legacy`` (read by the shim) imports neither libcst nor torch nor the CLI stack;
* no package of the migration wing has an import circle;
* every installed package carries ``py.typed``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ringlib
from ringlib_legacy import registry
from ringlib_legacy.layout import FLAT_MODULES

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {  # import package -> its folder
    "ringlib": ROOT / "ringlib",
    "ringlib_legacy": ROOT / "legacy" / "ringlib_legacy",
    "dilated_attention_pytorch": ROOT / "legacy" / "dilated_attention_pytorch",
    "ringlib_parity": ROOT / "parity" / "ringlib_parity",
    "ringlib_codemods": ROOT / "codemods" / "ringlib_codemods",
    "ringlib_cli": ROOT / "cli" / "ringlib_cli",
}
WING = {"dilated_attention_pytorch", "ringlib_legacy", "ringlib_parity", "ringlib_codemods", "ringlib_cli"}


def _modules(package: str) -> dict[str, ast.Module]:
    """Dotted module name -> syntax tree, for every file of ``package``."""
    folder = PACKAGES[package]
    out = {}
    for path in sorted(folder.rglob("*.py")):
        parts = [package, *path.relative_to(folder).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return out


def _imports(module: str, tree: ast.Module, is_package: bool, known: frozenset[str] = frozenset()) -> set[str]:
    """Every module ``module`` imports, at top level or inside functions, as absolute names.

    ``from a import b`` counts as ``a.b`` where that is one of the ``known`` modules (a
    submodule), else as ``a``; ``importlib.import_module("x")`` with a literal counts as ``x``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                         for alias in node.names)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.add(node.args[0].value)
    return names


def _top(name: str) -> str:
    return name.split(".")[0]


def test_the_core_imports_none_of_the_migration_wing():
    forbidden = WING | {"libcst", "typer", "rich"}
    found = {(module, name) for module, tree in _modules("ringlib").items()
             for name in _imports(module, tree, PACKAGES["ringlib"].joinpath(*module.split(".")[1:]).is_dir())
             if _top(name) in forbidden}
    assert not found


def test_the_core_names_no_old_class():
    """No identifier, attribute, definition or word of a string (docstrings included) in
    ``ringlib/`` is the name of an old public object, except names the core itself exports
    (``ringlib`` and ``ringlib.models``)."""
    # "LongNet" is also the paper that defines dilated attention: the core may cite it.
    exported = {*ringlib.__all__, *ringlib.models.__all__}
    old = {entry.name for entry in registry.LEGACY_NAMES if entry.kind != "module"} - exported - {"LongNet"}
    found = set()
    for module, tree in _modules("ringlib").items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                words = {node.id}
            elif isinstance(node, ast.Attribute):
                words = {node.attr}
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                words = {node.name}
            elif isinstance(node, ast.alias):
                words = {*node.name.split("."), node.asname or ""}
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                words = set(node.value.replace(".", " ").replace("`", " ").replace("(", " ").split())
            else:
                continue
            found.update((module, word) for word in words & old)
    assert not found


def test_the_registry_and_interpreter_stay_light():
    """The shim reads ``ringlib_legacy``: it must not need libcst, torch or the CLI stack."""
    found = {(module, name) for module, tree in _modules("ringlib_legacy").items()
             for name in _imports(module, tree, module.count(".") == 0 or module.endswith(".rows"))
             if _top(name) in {"libcst", "torch", "typer", "rich", "ringlib_codemods", "ringlib_parity",
                               "ringlib_cli", "dilated_attention_pytorch"}}
    assert not found


# No import circle in any package: tests/test_import_cycles.py (one check for the whole repository).


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_package_is_typed(package):
    assert (PACKAGES[package] / "py.typed").is_file()


def test_rows_list_the_flat_twin_of_every_nested_path():
    """The earlier flat layout held the same objects: a row that lists a path under a nested
    module lists its flat twin too (rows spell every path out)."""
    for entry in registry.LEGACY_NAMES:
        for path in entry.paths:
            module, _, name = path.rpartition(".")
            if module in FLAT_MODULES:
                assert f"{FLAT_MODULES[module]}.{name}" in entry.paths, (entry.key, path)
            if entry.kind == "module" and path in FLAT_MODULES:
                assert FLAT_MODULES[path] in entry.paths, (entry.key, path)
