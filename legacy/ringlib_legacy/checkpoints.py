"""Old checkpoints into the replacement modules: the one loader of the registry's key maps.

A class of ``dilated_attention_pytorch`` 0.2 saved its ``state_dict`` under its own key
names. The module its rewrite builds (``ringlib migrate``, MIGRATION.md) may name the same
tensors differently: a wrapper prefix (``attention.``), parameters the old class stored but
never used, separate q/k/v projections where the replacement has a fused one. Each row's
``checkpoint`` (``ringlib_legacy.schema.KeyMap``) says how, as data; this module applies it:

    model = ringlib.MultiheadDilatedAttention(...)          # what `ringlib migrate` wrote
    load_legacy_state_dict(model, torch.load("old.pt"), "RingAttentionWrapper")

The load is strict after the map: a key the map does not account for is an error, never
silently dropped. This module imports no torch (the registry stays light): the
checkpoint's tensors come with it.
"""

from __future__ import annotations

import functools
import re
import sys
from typing import Any, Mapping

from ringlib_legacy.schema import KeyMap, LegacyName

__all__ = ["CheckpointError", "key_map", "load_legacy_state_dict", "map_state_dict"]


class CheckpointError(ValueError):
    """The old checkpoint cannot be mapped onto the replacement (names the rule and the keys)."""


def key_map(name: str | LegacyName) -> tuple[LegacyName, KeyMap]:
    """The registry entry of ``name`` (key, old dotted path or bare name) and its key map."""
    if isinstance(name, LegacyName):
        entries = [name]
    else:
        from ringlib_legacy import registry

        entries = [e for e in registry.find(name) if e.checkpoint is not None]
        if len(entries) != 1:
            known = sorted(e.key for e in registry.LEGACY_NAMES if e.checkpoint is not None)
            what = "several entries" if entries else "no entry with a checkpoint key map"
            raise CheckpointError(f"name {name!r} matches {what}; use one of: {', '.join(known)}")
    entry = entries[0]
    if entry.checkpoint is None:
        raise CheckpointError(f"{entry.name} holds no state: there is no checkpoint to load")
    return entry, entry.checkpoint


@functools.lru_cache(maxsize=None)
def _prefix_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile("".join("([^.]+)" if part == "*" else re.escape(part) for part in re.split(r"(\*)", prefix)))


def _match(key: str, prefix: str) -> tuple[tuple[str, ...], str] | None:
    """``(components matched by the prefix's '*', rest of the key)`` where ``prefix`` leads ``key``."""
    if "*" not in prefix:
        return ((), key[len(prefix):]) if key.startswith(prefix) else None
    found = _prefix_pattern(prefix).match(key)
    return (found.groups(), key[found.end():]) if found else None


def _fill(prefix: str, components: tuple[str, ...]) -> str:
    parts = iter(components)
    return re.sub(r"\*", lambda _: next(parts), prefix)


def map_state_dict(state_dict: Mapping[str, Any], rules: KeyMap, *, name: str = "the old class") -> dict[str, Any]:
    """``state_dict`` with ``rules`` applied: drops, copies, splits, concatenations, then prefix renames."""
    if not rules.loads:
        raise CheckpointError(f"a {name} checkpoint does not load into its replacement: {rules.reason}")
    out = {k: v for k, v in state_dict.items() if not any(_match(k, p) for p in rules.drop)}
    for old, new in rules.copy:
        for key, value in list(out.items()):
            found = _match(key, old)
            if found:
                out[_fill(new, found[0]) + found[1]] = value
    for fused in rules.split:
        for key in [k for k in out if _match(k, fused.source)]:
            components, rest = _match(key, fused.source)  # type: ignore[misc]
            value = out.pop(key)
            if value.shape[fused.dim] % len(fused.targets):
                raise CheckpointError(f"{name} checkpoint: {key} of shape {tuple(value.shape)} does not split "
                                      f"into {len(fused.targets)} equal parts along dim {fused.dim}")
            for target, part in zip(fused.targets, value.chunk(len(fused.targets), dim=fused.dim)):
                out[_fill(target, components) + rest] = part
    for fused in rules.concat:
        missing = [k for k in fused.sources if k not in out]
        if missing:
            raise CheckpointError(f"{name} checkpoint lacks {missing} (needed for {fused.target})")
        torch = sys.modules["torch"]  # loaded already: the checkpoint holds its tensors
        out[fused.target] = torch.cat([out.pop(k) for k in fused.sources], dim=fused.dim)
    renamed: dict[str, Any] = {}
    for key, value in out.items():
        for old, new in rules.rename:
            found = _match(key, old)
            if found:
                key = _fill(new, found[0]) + found[1]
                break
        if key in renamed:
            raise CheckpointError(f"{name} checkpoint: two old keys map to {key!r}")
        renamed[key] = value
    return renamed


def load_legacy_state_dict(module: Any, state_dict: Mapping[str, Any], name: str | LegacyName) -> Any:
    """Load an old ``name`` checkpoint into ``module`` (the module its rewrite builds), strictly.

    ``name`` is the old class (``"RingAttentionWrapper"``, a dotted old path, or a registry
    key). Returns what ``module.load_state_dict`` returns. Raises ``CheckpointError`` where the
    registry says the checkpoint cannot load (with the reason), and torch's strict-load error
    where keys remain unaccounted for.
    """
    entry, rules = key_map(name)
    return module.load_state_dict(map_state_dict(state_dict, rules, name=entry.name), strict=True)
