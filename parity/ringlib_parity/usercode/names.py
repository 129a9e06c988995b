"""What the legacy registry says about a recorded call: the one place this subpackage reads it.

Re-point ``registry`` here when the registry moves (``ringlib_legacy.registry``).
"""

from __future__ import annotations

from functools import lru_cache

from ringlib_legacy import registry

OLD_PACKAGE = "dilated_attention_pytorch"


def is_old(cls: type) -> bool:
    """A class of the old package (the shim's classes report their old home module)."""
    module = getattr(cls, "__module__", "") or ""
    return module == OLD_PACKAGE or module.startswith(OLD_PACKAGE + ".")


@lru_cache(maxsize=None)
def legacy_key(path: str, name: str) -> str | None:
    """The registry key of an old class from its dotted path, else (aliases, renamed helper
    classes) from its bare name when that name is unambiguous."""
    entry = registry.by_path().get(path)
    if entry is None:
        named = [e for e in registry.LEGACY_NAMES if e.name == name and e.kind == "class"]
        entry = named[0] if len(named) == 1 else None
    return entry.key if entry else None


def display_name(key: str) -> str:
    return registry.by_key()[key].name


def replacements(key: str) -> frozenset[str]:
    """Every canonical callable ``ringlib migrate`` may put in place of the old name."""
    entry = registry.by_key()[key]
    return frozenset(rewrite.target for rewrite in entry.rewrites.values())


def expected_differences(key: str, semantics: str) -> tuple[str, ...]:
    """The numerical changes that ``--semantics intended`` makes on purpose for this name."""
    if semantics != "intended":
        return ()
    entry = registry.by_key()[key]
    return tuple(d.what for d in entry.divergences if d.applies == "intended")
