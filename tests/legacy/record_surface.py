"""Record the public surface of the 0.2 package: modules, names, kinds and signatures.

Run with the OLD package importable and ringlib absent (both are called
``dilated_attention_pytorch``), CPU only:

    CUDA_VISIBLE_DEVICES= PYTHONPATH=OLD_SRC:OLD_DEPS python tests/legacy/record_surface.py OLD_SRC \
        tests/legacy/recordings/surface.json

A module's public names are its ``__all__`` or, without one, the public names its source
binds at top level (definitions, assignments, guarded imports of optional features are left
out: only what the module itself defines). ``test_surface.py`` compares the shim to this file.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import sys
import warnings
from pathlib import Path

PACKAGE = "dilated_attention_pytorch"
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def module_names(src: Path) -> list[str]:
    """Every module of the package under ``src``, dotted."""
    root = src / PACKAGE
    out = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") and p != "__init__" for p in parts):
            continue
        out.append(".".join(parts))
    return out


def top_level_defs(path: Path) -> list[str]:
    """Public names the module's source defines at top level (not imports)."""
    tree = ast.parse(path.read_text())
    names: list[str] = []

    def visit(body, guarded: bool) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.append(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and not guarded:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.extend(t.id for t in targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.If) and not _is_main_guard(node):
                visit(node.body, guarded)
                visit(node.orelse, guarded)
            elif isinstance(node, ast.Try):
                visit(node.body, True)

    visit(tree.body, False)
    seen: dict[str, None] = {}
    for n in names:
        if not n.startswith("_") and n != "logger":
            seen.setdefault(n, None)
    return list(seen)


def _is_main_guard(node: ast.If) -> bool:
    return "__main__" in ast.unparse(node.test)


def kind_of(obj) -> str:
    if inspect.ismodule(obj):
        return "module"
    if isinstance(obj, type):
        return "class"
    if callable(obj):
        return "function"
    return "constant"


def signature_of(obj) -> list[list[str]] | None:
    """[name, kind, repr(default) or ""] per parameter; None where inspect has none."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return [[p.name, p.kind.name, "" if p.default is p.empty else _ADDRESS.sub("", repr(p.default))]
            for p in sig.parameters.values()]


def record(src: Path) -> dict:
    warnings.simplefilter("ignore")
    out: dict = {"modules": {}}
    for name in module_names(src):
        entry: dict = {"names": {}}
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # the old module did not import: recorded, not compared
            entry["import_error"] = f"{type(exc).__name__}: {exc}"
            out["modules"][name] = entry
            continue
        declared = getattr(module, "__all__", None)
        if declared is not None:
            entry["all"] = list(declared)
            public = list(dict.fromkeys(declared))
        else:
            path = Path(module.__file__)
            public = [n for n in top_level_defs(path) if hasattr(module, n)]
        for attr in public:
            if not hasattr(module, attr):
                entry["names"][attr] = {"kind": "missing"}
                continue
            obj = getattr(module, attr)
            entry["names"][attr] = {"kind": kind_of(obj), "signature": signature_of(obj)}
        out["modules"][name] = entry
    return out


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        raise SystemExit("usage: record_surface.py OLD_SRC OUT.json")
    src = Path(argv[1]).resolve()
    modules = record(src)["modules"]
    lines = [f" {json.dumps(m)}: {json.dumps(modules[m], sort_keys=True, separators=(',', ':'))}" for m in sorted(modules)]
    Path(argv[2]).write_text('{"modules": {\n' + ",\n".join(lines) + "\n}}\n")  # one line a module


if __name__ == "__main__":
    main(sys.argv)
