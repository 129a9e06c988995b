"""The registry of legacy ``dilated_attention_pytorch`` 0.2 names: plain data, one source of truth.

Read by the shim (``legacy/dilated_attention_pytorch``), the codemods (``ringlib migrate``),
the parity harness (``ringlib parity``), ``ringlib list`` and the tables of MIGRATION.md.
Nothing here imports torch: the command line stays fast.

The rows live in ``ringlib_legacy.rows``, one module per family of the old package, each a
tuple ``ROWS`` of keyword-built ``LegacyName`` records (schema: ``ringlib_legacy.schema``).
Adding a family is adding its module to ``ROW_MODULES``.

The 24 names
------------
The old package had 24 attention classes, the rows marked ``counted=True`` (MIGRATION.md,
"The 24 names"): 18 "preserve" names (the shim computes what the old class computed) and 6
"intended" names (the old code crashed or did not compute attention; the shim computes the
correct semantics). Everything else is ``counted=False``: aliases are extra paths of their
entry (same object); companions (configs, factories, helper functions and modules, the
functional forms ``ring_attention`` / ``memory_efficient_ring_attention``, the old base
``DilatedAttention``) have entries of their own.
"""

from __future__ import annotations

from ringlib_legacy.layout import FLAT_MODULES, MODULE_ALL, ROOT
from ringlib_legacy.recipe import render_call
from ringlib_legacy.removed import REMOVED, REMOVED_MODULE_PREFIXES
from ringlib_legacy.rows import infra, models, ring_base, ring_distributed, ring_hilbert, ring_utils, sparse, surface
from ringlib_legacy.schema import (
    REQUIRED,
    Arg,
    Divergence,
    LegacyName,
    Numerics,
    Param,
    Removed,
    Rewrite,
    Semantics,
    is_required,
)

__all__ = [
    "Arg", "Divergence", "FLAT_MODULES", "LEGACY_NAMES", "LegacyName", "MODULE_ALL", "Numerics", "Param",
    "REMOVED", "REMOVED_MODULE_PREFIXES", "REQUIRED", "ROOT", "ROW_MODULES", "Removed", "Rewrite", "Semantics",
    "by_key", "by_path", "counted", "find", "is_required", "module_paths", "names_in", "removed", "render_call",
]

#: The row modules, in the order of the old package's families.
ROW_MODULES = (ring_base, ring_hilbert, ring_distributed, ring_utils, sparse, models, infra, surface)

_ROWS = tuple(row for module in ROW_MODULES for row in module.ROWS)

#: All entries: the 24 counted names first, then the companions.
LEGACY_NAMES: tuple[LegacyName, ...] = (
    *(row for row in _ROWS if row.counted),
    *(row for row in _ROWS if not row.counted),
)


def counted() -> tuple[LegacyName, ...]:
    """The 24 legacy names of the migration."""
    return tuple(entry for entry in LEGACY_NAMES if entry.counted)


def by_key() -> dict[str, LegacyName]:
    return {entry.key: entry for entry in LEGACY_NAMES}


def by_path() -> dict[str, LegacyName]:
    """Every dotted old path -> its entry."""
    return {path: entry for entry in LEGACY_NAMES for path in entry.paths}


def find(name: str) -> list[LegacyName]:
    """The entries a user means by ``name``: a key, an old dotted path or a bare name."""
    keys, paths = by_key(), by_path()
    if name in keys:
        return [keys[name]]
    if name in paths:
        return [paths[name]]
    return [entry for entry in LEGACY_NAMES if entry.name == name]


def module_paths() -> tuple[str, ...]:
    """Every old module path the shim provides (parents first)."""
    modules = {ROOT}
    for entry in LEGACY_NAMES:
        for path in entry.paths:
            parts = path.split(".")
            stop = len(parts) + 1 if entry.kind == "module" else len(parts)
            modules.update(".".join(parts[:i]) for i in range(1, stop))
    modules.update(MODULE_ALL)
    return tuple(sorted(modules, key=lambda m: (m.count("."), m)))


def names_in(module: str) -> dict[str, LegacyName]:
    """Attribute name -> entry for the names an old module held (submodules excluded)."""
    return {path.rpartition(".")[2]: entry for entry in LEGACY_NAMES if entry.kind != "module"
            for path in entry.paths if path.rpartition(".")[0] == module}


def removed(path: str) -> Removed | None:
    """The ``Removed`` record of an old dotted path, if the shim dropped it."""
    for record in REMOVED:
        if record.path == path:
            return record
    if any(path.startswith(prefix) for prefix in REMOVED_MODULE_PREFIXES):
        return Removed(path, "ringlib (this flat module was removed before 0.2)", "module")
    return None
