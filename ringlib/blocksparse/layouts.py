"""Block layouts: which (query block, key block) pairs are active, as integer counts.

A layout materialises as an integer tensor ``[nb, nb]`` (shared by all heads) or
``[heads, nb, nb]``: entry ``(i, j)`` is how often the pair (query block ``i``, key block
``j``) is listed. Counts above one only matter under ``normalization="per_block_sum"``
(the legacy BLOCK_SUM multiset: a pair listed twice is summed twice); the row softmax treats
any count > 0 as "active".

The named generators reproduce the old pattern-config patterns and
the HIERARCHICAL mask of the old distributed class exactly. They are frozen
dataclasses, so a pattern built from them is hashable by value. Parameters measured in
tokens (``window_size``) need the block size; leave ``block_size=None`` and ``BlockSparse``
fills in its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import torch

Tensor = torch.Tensor

__all__ = [
    "LayoutGenerator",
    "LocalWindow",
    "DilatedBlocks",
    "GlobalLocal",
    "Hierarchical",
    "local_window",
    "dilated",
    "global_local",
    "hierarchical",
    "hierarchical_levels",
    "NAMED",
]


def _check_int(name: str, value, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _check_fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


class LayoutGenerator:
    """Base class of the named layouts: ``gen(num_blocks, heads)`` returns the counts."""

    #: whether the layout is defined in tokens and needs ``block_size``
    needs_block_size = False

    def with_block_size(self, block_size: int) -> "LayoutGenerator":
        """This generator bound to ``block_size`` (ValueError on a conflicting value)."""
        if not self.needs_block_size:
            return self
        own = getattr(self, "block_size")
        if own is None:
            return dataclasses.replace(self, block_size=block_size)
        if own != block_size:
            raise ValueError(
                f"{type(self).__name__} was built for block_size={own} but the pattern uses "
                f"block_size={block_size}"
            )
        return self

    def _block_size(self) -> int:
        bs = getattr(self, "block_size")
        if bs is None:
            raise ValueError(f"{type(self).__name__} needs block_size (pass it, or use it inside BlockSparse)")
        return bs

    def _check_block_size(self) -> None:
        """Validate a ``block_size`` given at construction (None: filled in by ``BlockSparse``)."""
        if getattr(self, "block_size") is not None:
            _check_int("block_size", getattr(self, "block_size"), 1)

    def _window_radius(self) -> int:
        """``w = (window_size // bs) // 2`` of the legacy window layouts (an even
        ``window_size // bs`` still gives ``2w + 1`` blocks: legacy integer division)."""
        return (getattr(self, "window_size") // self._block_size()) // 2

    def __call__(self, num_blocks: int, heads: int = 1) -> Tensor:
        return self.counts(num_blocks)

    def counts(self, num_blocks: int) -> Tensor:
        raise NotImplementedError

    def pairs(self, num_blocks: int) -> Tensor:
        """Active pairs as a LongTensor ``(2, P)`` (row blocks; column blocks) in the legacy
        order, duplicates included (what the old ``return_attention_weights`` returned)."""
        raise NotImplementedError


def _band(num_blocks: int, radius: int) -> Tensor:
    i = torch.arange(num_blocks)
    return (i[:, None] - i[None, :]).abs() <= radius


@dataclass(frozen=True)
class LocalWindow(LayoutGenerator):
    """Legacy ``local_window``: pairs with ``|i - j| <= w``, ``w = (window_size // bs) // 2``
    (an even ``window_size // bs`` still gives ``2w + 1`` blocks: legacy integer division)."""

    window_size: int = 256
    block_size: int | None = None
    needs_block_size = True

    def __post_init__(self) -> None:
        _check_int("window_size", self.window_size)
        self._check_block_size()

    @property
    def radius(self) -> int:
        return self._window_radius()

    def counts(self, num_blocks: int) -> Tensor:
        return _band(num_blocks, self.radius).to(torch.int32)

    def pairs(self, num_blocks: int) -> Tensor:
        return self.counts(num_blocks).nonzero().t()  # row-major


@dataclass(frozen=True, init=False)
class DilatedBlocks(LayoutGenerator):
    """Legacy ``dilated_sparse``: per row ``i`` the pair ``(i, i)``, then for each rate ``r``
    (in blocks) ``(i, i + r)`` and ``(i, i - r)`` where inside ``[0, nb)``. Repeated rates
    repeat pairs; a rate 0 adds the diagonal twice more."""

    dilation_rates: tuple[int, ...]

    def __init__(self, dilation_rates: Sequence[int] | None = (1, 2, 4)) -> None:
        rates = (1, 2, 4) if dilation_rates is None else tuple(dilation_rates)
        for r in rates:
            _check_int("dilation_rates", r)
        object.__setattr__(self, "dilation_rates", rates)

    def counts(self, num_blocks: int) -> Tensor:
        counts = torch.eye(num_blocks, dtype=torch.int32)
        for r in self.dilation_rates:
            if r < num_blocks:
                ones = torch.ones(num_blocks - r, dtype=torch.int32)
                counts += torch.diag(ones, r) + torch.diag(ones, -r)
        return counts

    def pairs(self, num_blocks: int) -> Tensor:
        i = torch.arange(num_blocks)[:, None]
        offsets = [0] + [s * r for r in self.dilation_rates for s in (1, -1)]
        cols = i + torch.tensor(offsets)[None, :]  # (nb, 1 + 2R), legacy order per row
        rows = i.expand_as(cols)
        keep = (cols >= 0) & (cols < num_blocks)
        return torch.stack([rows[keep], cols[keep]])


@dataclass(frozen=True)
class GlobalLocal(LayoutGenerator):
    """Legacy ``global_local``: active iff ``i < G`` or ``j < G`` or ``|i - j| <= w``, with
    ``G = min(global_blocks, nb)`` (the legacy field ``global_tokens`` counted blocks) and
    ``w`` as in ``LocalWindow``."""

    global_blocks: int = 1
    window_size: int = 256
    block_size: int | None = None
    needs_block_size = True

    def __post_init__(self) -> None:
        _check_int("global_blocks", self.global_blocks)
        _check_int("window_size", self.window_size)
        self._check_block_size()

    @property
    def radius(self) -> int:
        return self._window_radius()

    def counts(self, num_blocks: int) -> Tensor:
        g = min(self.global_blocks, num_blocks)
        i = torch.arange(num_blocks)
        active = _band(num_blocks, self.radius) | (i[:, None] < g) | (i[None, :] < g)
        return active.to(torch.int32)

    def pairs(self, num_blocks: int) -> Tensor:
        nb, g, w = num_blocks, min(self.global_blocks, num_blocks), self.radius
        # global rows: for j in order, (i, j) then (j, i) unless i == j
        gi = torch.arange(g)[:, None].expand(g, nb)
        gj = torch.arange(nb)[None, :].expand(g, nb)
        first = torch.stack([gi, gj], -1)
        second = torch.stack([gj, gi], -1)
        glob = torch.stack([first, second], 2).reshape(-1, 2)  # (g*nb*2, 2), interleaved
        glob = glob[torch.stack([torch.ones_like(gi, dtype=torch.bool), gi != gj], 2).reshape(-1)]
        # other rows: window columns, then global columns outside the window
        i = torch.arange(g, nb)[:, None]
        win = i + torch.arange(-w, w + 1)[None, :]
        win_ok = (win >= 0) & (win < nb)
        gcols = torch.arange(g)[None, :].expand(nb - g, g)
        g_ok = (gcols - i).abs() > w
        cols = torch.cat([win, gcols], 1)
        ok = torch.cat([win_ok, g_ok], 1)
        local = torch.stack([i.expand_as(cols)[ok], cols[ok]], -1)
        allp = torch.cat([glob, local])
        # drop duplicates, keeping the first occurrence
        key = allp[:, 0] * nb + allp[:, 1]
        uniq, inverse = torch.unique(key, return_inverse=True)
        first_at = torch.full((len(uniq),), len(key), dtype=torch.long)
        first_at.scatter_reduce_(0, inverse, torch.arange(len(key)), "amin")
        return allp[first_at.sort().values].t()


# ---------------------------------------------------------------------------------------------
# HIERARCHICAL: three random levels drawn from one generator in a fixed order.
# The draw order is the definition, so the loops below mirror it (run once per (nb, heads)).


def hierarchical_levels(num_blocks: int, heads: int, block_size: int, local_sparsity: float = 0.4,
                        global_sparsity: float = 0.1, inter_node_sparsity: float = 0.05,
                        generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """The LOCAL, GLOBAL and INTER masks (bool ``[heads, nb, nb]``, CPU) of the legacy
    hierarchical pattern, drawn in the legacy order from ``generator`` (None: the global
    torch RNG, as the old hierarchical pattern generator did)."""
    nb = num_blocks
    local = torch.zeros(heads, nb, nb, dtype=torch.bool)
    lw = min(512, nb // 4) // block_size  # legacy formula (mixes tokens and blocks)
    for h in range(heads):
        for i in range(nb):
            st, en = max(0, i - lw), min(nb, i + lw + 1)
            n = en - st
            torch.randperm(n, generator=generator)  # drawn for its effect on the generator only
            local[h, i, st: st + min(n, int(n * local_sparsity))] = True

    glob = torch.zeros(heads, nb, nb, dtype=torch.bool)
    gb = min(16, nb // 8)
    for h in range(heads):
        for i in range(gb):
            glob[h, i, torch.randperm(nb, generator=generator)[: int(nb * global_sparsity)]] = True
        glob[h, :, :gb] = True
        for dil in (1, 2, 4, 8):
            cols = torch.arange(0, nb, dil)
            # one scalar draw per (i, j) in row-major order == one draw of all of them
            u = torch.rand(nb - gb, len(cols), generator=generator)
            glob[h, gb:, cols] |= u < global_sparsity

    inter = torch.zeros(heads, nb, nb, dtype=torch.bool)
    for h in range(heads):
        f = torch.randperm(nb * nb, generator=generator)[: int(nb * nb * inter_node_sparsity)]
        inter[h, f // nb, f % nb] = True
    return {"local": local, "global": glob, "inter_node": inter}


@dataclass(frozen=True)
class Hierarchical(LayoutGenerator):
    """The legacy HIERARCHICAL pattern ``LOCAL | GLOBAL | INTER`` (per head), drawn from a
    private CPU generator seeded with ``seed``: the same mask for every call, rank and world
    size (the old class drew from the global RNG and drifted)."""

    seed: int
    local_sparsity: float = 0.4
    global_sparsity: float = 0.1
    inter_node_sparsity: float = 0.05
    block_size: int | None = None
    needs_block_size = True

    def __post_init__(self) -> None:
        _check_int("seed", self.seed)
        for name in ("local_sparsity", "global_sparsity", "inter_node_sparsity"):
            _check_fraction(name, getattr(self, name))
        self._check_block_size()

    def __call__(self, num_blocks: int, heads: int = 1) -> Tensor:
        gen = torch.Generator().manual_seed(self.seed)
        levels = hierarchical_levels(num_blocks, heads, self._block_size(), self.local_sparsity,
                                     self.global_sparsity, self.inter_node_sparsity, gen)
        return (levels["local"] | levels["global"] | levels["inter_node"]).to(torch.int32)


# ---------------------------------------------------------------------------------------------
# constructor functions: the documented spelling


def local_window(window_size: int = 256, block_size: int | None = None) -> LocalWindow:
    """Band of ``2w + 1`` blocks, ``w = (window_size // block_size) // 2`` (legacy formula)."""
    return LocalWindow(window_size, block_size)


def dilated(dilation_rates: Sequence[int] | None = (1, 2, 4)) -> DilatedBlocks:
    """Diagonal plus block offsets ``±r`` for each rate (legacy ``dilated_sparse``)."""
    return DilatedBlocks(dilation_rates)


def global_local(global_blocks: int = 1, window_size: int = 256,
                 block_size: int | None = None) -> GlobalLocal:
    """The first ``global_blocks`` rows and columns plus a local band (legacy ``global_local``;
    its ``global_tokens`` field is ``global_blocks`` here: it always counted blocks)."""
    return GlobalLocal(global_blocks, window_size, block_size)


def hierarchical(seed: int, local_sparsity: float = 0.4, global_sparsity: float = 0.1,
                 inter_node_sparsity: float = 0.05, block_size: int | None = None) -> Hierarchical:
    """The legacy hierarchical mask from a private generator seeded ``seed``."""
    return Hierarchical(seed, local_sparsity, global_sparsity, inter_node_sparsity, block_size)


#: names accepted by ``BlockSparse("name", ...)`` (``dilated_sparse`` is the legacy spelling)
NAMED = {
    "local_window": local_window,
    "dilated": dilated,
    "dilated_sparse": dilated,
    "global_local": global_local,
    "hierarchical": hierarchical,
}
