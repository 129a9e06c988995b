"""Lookup tables over the legacy registry: old path -> entry, known old modules, pre-filter.

Everything the codemod knows about old names comes from ``ringlib_legacy.registry``; this module
only reshapes that data for fast lookups. Nothing here restates an old name or path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ringlib_legacy import registry
from ringlib_legacy.schema import LegacyName, Rewrite

try:  # registries before the removal records existed have none
    from ringlib_legacy.schema import Removed
except ImportError:  # pragma: no cover
    Removed = object  # type: ignore[misc,assignment]


class SelectionError(ValueError):
    """``--select``/``--ignore`` named something the registry does not know."""


@dataclass
class LegacyIndex:
    """The registry entries a run works with, indexed for the codemod."""

    entries: tuple[LegacyName, ...]
    removed: tuple = ()  # ``Removed`` records: old names/modules the shim does not carry
    removed_prefixes: tuple[str, ...] = ()
    extra_modules: tuple[str, ...] = ()  # old modules that host no entry of their own
    by_path: dict[str, LegacyName] = field(init=False)
    modules: frozenset[str] = field(init=False)  # every dotted module path that hosts old names
    packages: frozenset[str] = field(init=False)  # top-level old package names
    last_components: frozenset[str] = field(init=False)
    _prefilter: re.Pattern[bytes] = field(init=False, repr=False)
    _removed: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.by_path = {path: entry for entry in self.entries for path in entry.paths}
        modules: set[str] = set()
        for entry in self.entries:
            for path in entry.paths:
                parts = path.split(".")
                modules.update(".".join(parts[:i]) for i in range(1, len(parts)))
                if entry.kind == "module":
                    modules.add(path)
        modules.update(self.extra_modules)
        self.modules = frozenset(modules)
        self._removed = {r.path: r for r in self.removed}
        self.packages = frozenset(path.split(".")[0] for path in self.by_path)
        self.last_components = frozenset(
            m.rsplit(".", 1)[-1] for m in modules if "." in m
        ) | frozenset(e.name for e in self.entries)
        names = b"|".join(re.escape(p.encode()) for p in sorted(self.packages)) or b"(?!x)x"
        self._prefilter = re.compile(names)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        entries: Sequence[LegacyName] | None = None,
        select: Iterable[str] = (),
        ignore: Iterable[str] = (),
        removed: Sequence | None = None,
    ) -> "LegacyIndex":
        """Index ``entries`` (default: the registry), keeping ``select`` minus ``ignore``.

        With the registry's entries, its removal records and module list come along;
        explicit ``entries`` (tests) bring only what they say.

        Names may be given as an entry's ``name`` or its ``key``; an unknown name is an error
        (a typo would otherwise silently migrate nothing).
        """
        extra: tuple[str, ...] = ()
        prefixes: tuple[str, ...] = ()
        if entries is None:
            entries = registry.LEGACY_NAMES
            removed = getattr(registry, "REMOVED", ()) if removed is None else removed
            prefixes = tuple(getattr(registry, "REMOVED_MODULE_PREFIXES", ()))
            module_paths = getattr(registry, "module_paths", None)
            extra = tuple(module_paths()) if module_paths else ()
        entries = tuple(entries)
        removed = tuple(removed or ())
        select, ignore = set(select), set(ignore)
        known = {e.name for e in entries} | {e.key for e in entries}
        unknown = sorted((select | ignore) - known)
        if unknown:
            raise SelectionError(f"unknown legacy name(s): {', '.join(unknown)} (see `ringlib list`)")

        def chosen(entry: LegacyName) -> bool:
            names = {entry.name, entry.key}
            return (not select or bool(names & select)) and not (names & ignore)

        index = cls(tuple(e for e in entries if chosen(e)), removed, prefixes, extra)
        # Modules and packages stay known even for entries that were not selected: an
        # unselected old name is left alone, not reported as an unknown module.
        index.modules = cls(entries, removed, prefixes, extra).modules
        return index

    # -- queries --------------------------------------------------------------------------
    def normalize(self, dotted: str) -> str | None:
        """The old path ``dotted`` denotes, or None.

        A vendored copy is imported under a longer path (``third_party.<package>.ring``):
        everything before the old package's component is dropped.
        """
        parts = dotted.split(".")
        for i, part in enumerate(parts):
            if part in self.packages:
                return ".".join(parts[i:])
        return None

    def mentions(self, data: bytes) -> bool:
        """Cheap text pre-filter: can this file refer to an old name at all?

        True when the file names an old package, or has a relative import and mentions an
        old module or name (a file inside a vendored copy of the old package).
        """
        if self._prefilter.search(data):
            return True
        if b"from ." not in data and b"from  ." not in data:
            return False
        return any(c.encode() in data for c in self.last_components)

    def is_old_module(self, dotted: str) -> bool:
        return dotted in self.modules

    def removed_record(self, dotted: str):
        """The registry's record of an old name or module the shim dropped, if any."""
        parts = dotted.split(".")
        for i in range(len(parts), 1, -1):  # the path itself, then its parent modules
            record = self._removed.get(".".join(parts[:i]))
            if record is not None:
                return record
        if any(dotted.startswith(p) for p in self.removed_prefixes):
            return _RemovedPrefix(dotted)
        return None

    @staticmethod
    def rewrite_for(entry: LegacyName, semantics: str) -> Rewrite | None:
        """The recipe for ``semantics``; a name with one recipe uses it for both modes."""
        if semantics in entry.rewrites:
            return entry.rewrites[semantics]
        if len(entry.rewrites) == 1:
            return next(iter(entry.rewrites.values()))
        return None


@dataclass(frozen=True)
class _RemovedPrefix:
    """A flat module matched by one of the registry's removed-module prefixes."""

    path: str
    use_instead: str = "ringlib (this flat module was removed before 0.2)"
    kind: str = "module"
