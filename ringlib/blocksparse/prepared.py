"""What a block-sparse call needs, prepared once per (pattern, n, heads, causal, device).

Everything derivable from those (the validated layout, the active pairs with their index
tensors already on the device, their chunks, FlexAttention's BlockMask) is built by the first
call and kept here, in one cache keyed by a plain tuple. A later call is one dict look-up:
no layout evaluated, no index tensor allocated, no device-to-host copy (what CUDA graphs and
``torch.compile(fullgraph=True)`` need).

Compiled graphs name an entry by a string (``traced_key``): torch.compile runs that look-up
once, eagerly, while it traces, and the graph keeps the string, never a tensor of the layout.
The string is made of the pattern's repr and every fact that fixes the shapes of what the
operators return, so code that Inductor cached in another process for the same string is
right for this one too. Entries named by a traced graph are kept for the life of the
process; the others are evicted oldest first beyond ``CAPACITY``.
"""

from __future__ import annotations

import torch

from ringlib import patterns
from ringlib.blocksparse import block_mask
from ringlib.blocksparse.pairs import BlockPairs, from_counts

CAPACITY = 256
"""Entries kept for eager calls (layouts that change every call, e.g. adaptive ones, cycle)."""

_CACHE: dict[tuple, "Prepared"] = {}
_TRACED: dict[str, "Prepared"] = {}


class Prepared:
    """One (pattern, n, heads, causal, device): its layout and the work lists of its routes,
    each built on first use."""

    __slots__ = ("pattern", "n", "heads", "causal", "device", "nb", "layout_heads",
                 "_pairs", "_chunks", "_masks")

    def __init__(self, pattern, n: int, heads: int, causal: bool, device: torch.device) -> None:
        self.pattern, self.n, self.heads, self.causal, self.device = pattern, n, heads, causal, device
        self.nb = n // pattern.block_size
        self.layout_heads = pattern.counts(self.nb, heads).shape[0]  # validates the layout once
        self._pairs: BlockPairs | None = None
        self._chunks: dict[int, tuple[tuple[int, int], ...]] = {}
        self._masks: dict[int, object] = {}

    def pairs(self) -> BlockPairs:
        """Active block pairs, index tensors on ``device`` (the ``pairs`` route)."""
        if self._pairs is None:
            counts = self.pattern.counts(self.nb, self.heads)
            self._pairs = from_counts(counts, self.causal, self.device,
                                      count_multiplicity=self.pattern.normalization == "per_block_sum")
        return self._pairs

    def chunks(self, max_pairs: int) -> tuple[tuple[int, int], ...]:
        """``pairs().chunks(max_pairs)``, computed once per ``max_pairs``."""
        found = self._chunks.get(max_pairs)
        if found is None:
            found = self._chunks[max_pairs] = tuple(self.pairs().chunks(max_pairs))
        return found

    def block_mask(self, tile: int):
        """FlexAttention's BlockMask at ``tile`` (the ``flex`` route)."""
        found = self._masks.get(tile)
        if found is None:
            active = self.pattern.counts(self.nb, self.heads) > 0
            found = self._masks[tile] = block_mask.build(active, self.pattern.block_size, self.n, self.causal,
                                                        self.device, tile)
        return found


def prepare(pattern, n: int, heads: int, causal: bool, device: torch.device) -> Prepared:
    """The cached entry (built on a miss)."""
    key = (pattern, n, heads, causal, device)
    entry = _CACHE.get(key)
    if entry is None:
        entry = Prepared(pattern, n, heads, causal, device)
        if len(_CACHE) >= CAPACITY:
            del _CACHE[next(iter(_CACHE))]
        _CACHE[key] = entry
    return entry


@torch._dynamo.assume_constant_result
def traced_key(pattern_key: str, n: int, heads: int, causal: bool, device: torch.device) -> str:
    """The string under which a compiled graph finds its entry (``by_key``). While torch.compile
    traces, this runs eagerly and its result is a constant of the graph. Takes the pattern's
    ``plan_key`` (``ringlib.patterns.remember``), never the pattern object."""
    pattern = patterns.by_key(pattern_key)
    entry = prepare(pattern, n, heads, causal, device)
    base = (f"{pattern!r}|n={n}|heads={heads}|causal={causal}|device={device}|layout_heads={entry.layout_heads}"
            f"|blocks={entry.nb}")
    key, copy = base, 1
    while _TRACED.setdefault(key, entry) is not entry and _TRACED[key].pattern != pattern:
        copy += 1  # two patterns with one repr (e.g. layouts with one digest prefix): keep both
        key = f"{base}#{copy}"
    return key


def by_key(key: str) -> Prepared:
    return _TRACED[key]


def clear() -> None:
    """Forget the eager entries (traced ones stay: compiled graphs name them)."""
    _CACHE.clear()
