"""Lazy module tree and deprecation warnings, generated from ``ringlib_legacy.registry``.

The old package had some sixty module paths (nested and flat). Rather than one file per
path, a meta-path finder creates each module on import from the registry; the module's
``__getattr__`` (PEP 562) resolves an old name to its shim object and warns once, at the
user's line. Objects are never cached in the module dict, so every access site warns (the
warnings filters then decide what is shown).
"""

from __future__ import annotations

import ast
import dis
import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types
import warnings

from ringlib_legacy import registry
from ringlib.deprecation import RinglibDeprecationWarning

ROOT = registry.ROOT
_HERE = os.path.dirname(os.path.abspath(__file__))
_MODULES = frozenset(registry.module_paths())
_PACKAGES = frozenset(m.rpartition(".")[0] for m in _MODULES if "." in m)
_NAMES: dict[str, dict[str, registry.LegacyName]] = {m: registry.names_in(m) for m in _MODULES}


def module_all(module: str) -> tuple[str, ...]:
    if module in registry.MODULE_ALL:
        return registry.MODULE_ALL[module]
    return tuple(sorted(_NAMES.get(module, {})))


def module_dir(module: str, namespace: dict) -> list[str]:
    children = {m.rpartition(".")[2] for m in _MODULES if m.rpartition(".")[0] == module}
    return sorted({*namespace, *_NAMES.get(module, {}), *children})


def _user_frame():
    """The first frame outside this shim and the import machinery."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not (filename.startswith(_HERE) or filename.startswith("<frozen importlib")
                or "importlib" in filename and "_bootstrap" in filename):
            return frame
        frame = frame.f_back
    return None


def _warn(entry: registry.LegacyName) -> None:
    frame = _user_frame()
    if frame is None:
        warnings.warn(entry.message, RinglibDeprecationWarning, stacklevel=3)
        return
    module_globals = frame.f_globals
    warnings.warn_explicit(
        entry.message, RinglibDeprecationWarning, frame.f_code.co_filename, frame.f_lineno,
        module=module_globals.get("__name__", "<unknown>"),
        registry=module_globals.setdefault("__warningregistry__", {}),
    )


def _from_import_probe() -> bool:
    """True when the import system merely probes ``hasattr`` for ``from pkg import name``;
    the IMPORT_FROM that follows performs the real access (and warns)."""
    caller = sys._getframe(3)
    return caller is not None and caller.f_code.co_name == "_handle_fromlist"


def _in_from_import() -> bool:
    """True when the access is the IMPORT_FROM of ``from module import name`` in user code:
    there an AttributeError would be replaced by a generic ImportError, so raise our own."""
    frame = sys._getframe(3)
    if frame is None or frame.f_lasti < 0:
        return False
    return frame.f_code.co_code[frame.f_lasti] == dis.opmap["IMPORT_FROM"]


def attribute(module: str, name: str):
    """``getattr(module, name)`` for an old module: the shim object, with one warning."""
    entry = _NAMES.get(module, {}).get(name)
    if entry is not None:
        from dilated_attention_pytorch._impl import resolve

        obj = resolve(entry.key)
        if not _from_import_probe():
            _warn(entry)
        return obj
    child = f"{module}.{name}"
    if child in _MODULES:
        return importlib.import_module(child)
    gone = registry.removed(child)
    if gone is not None and not name.startswith("_"):
        raise (ImportError if _in_from_import() else AttributeError)(gone.message)
    raise AttributeError(f"module {module!r} has no attribute {name!r}")


class _LegacyModule(types.ModuleType):
    """A generated old module: names resolve through ``attribute``."""

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return attribute(self.__name__, name)

    def __dir__(self) -> list[str]:
        return module_dir(self.__name__, self.__dict__)


def _homed_classes(module: str) -> dict[str, str]:
    """Old class name -> shim source file, for the classes whose old home is ``module``."""
    from dilated_attention_pytorch._impl import IMPLEMENTATIONS, home_module

    out = {}
    for e in _NAMES.get(module, {}).values():
        if e.kind in ("class", "dataclass", "enum") and e.key in IMPLEMENTATIONS:
            impl, _, attr = IMPLEMENTATIONS[e.key].partition(":")
            if home_module(e.key, attr) == module:
                out[attr] = os.path.join(_HERE, *impl.split(".")[1:]) + ".py"
    return out


def _class_source_file(module: str) -> str | None:
    """The file ``inspect`` reads for the classes whose old home is ``module``.

    Shim classes report their old home as ``__module__`` (pickles, reprs); ``inspect.getsource``
    looks for a class in ``sys.modules[cls.__module__].__file__`` (CPython before 3.13 has no
    ``__firstlineno__``). Where those classes come from one shim file, that is the file; where
    from several, a name that exists nowhere on disk, whose text ``_Finder.get_source`` gives."""
    files = set(_homed_classes(module).values())
    if not files:
        return None
    return files.pop() if len(files) == 1 else os.path.join(_HERE, module + ".py")


def _combined_source(module: str) -> str:
    """The definitions of the classes homed in ``module``, each under a line naming its file."""
    parts = []
    for name, path in sorted(_homed_classes(module).items(), key=lambda item: (item[1], item[0])):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        lines = text.splitlines()
        for node in ast.parse(text).body:
            if isinstance(node, ast.ClassDef) and node.name == name:
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                where = os.path.relpath(path, os.path.dirname(_HERE))
                parts.append(f"# {where}, line {first}\n" + "\n".join(lines[first - 1:node.end_lineno]) + "\n")
    return "\n\n".join(parts)


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Creates the old module paths listed in the registry; refuses removed ones clearly."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(ROOT + ".") or fullname.rpartition(".")[2].startswith("_"):
            return None
        if fullname in _MODULES:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=fullname in _PACKAGES)
        gone = registry.removed(fullname)
        if gone is not None:
            raise ModuleNotFoundError(gone.message, name=fullname)
        return None

    def get_source(self, fullname: str) -> str | None:
        """Source text for ``linecache``/``inspect`` where a module's classes span shim files."""
        return _combined_source(fullname) if fullname in _MODULES else None

    def create_module(self, spec):
        return _LegacyModule(spec.name)

    def exec_module(self, module) -> None:
        name = module.__name__
        module.__doc__ = f"Deprecated module of dilated_attention_pytorch 0.2 (ringlib shim): {name}."
        module.__all__ = list(module_all(name))
        source = _class_source_file(name)
        if source is not None:
            module.__file__ = source
        if name in _PACKAGES:
            module.__path__ = []


_FINDER = _Finder()


def install() -> None:
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
