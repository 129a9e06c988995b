"""``BlockSparse``: attention restricted to active (query block, key block) pairs.

A pattern is data: what is computed, never how (``ringlib.dispatch`` picks the kernel).
Two normalizations (DESIGN.md "parts" view):

* ``"softmax"``: one part per query block: the softmax of each query row runs over all keys
  of its active key blocks (correct masked attention; counts > 1 mean the same as 1);
* ``"per_block_sum"``: every active pair is its own part, softmaxed alone, and the outputs
  are summed, each as often as the pair is listed (the legacy BLOCK_SUM profile).

``causal=True`` is token-level on original positions: pairs above the diagonal see nothing,
diagonal pairs see keys ``<=`` the query. A row with no visible key outputs 0.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Callable, Literal, Union

import torch

from ringlib.blocksparse import layouts as _layouts
from ringlib.blocksparse.pairs import BlockPairs, from_counts
from ringlib.patterns import LabelPart, Pattern, ReferencePart, by_key, remember

Tensor = torch.Tensor


@dataclass(frozen=True, repr=False)
class StaticLayout:
    """A layout given as a tensor, frozen to bytes so that patterns hash by value."""

    shape: tuple[int, ...]
    data: bytes  # int32 counts, C order

    @classmethod
    def from_tensor(cls, t: Tensor) -> "StaticLayout":
        counts = _check_counts(t, "layout")
        return cls(tuple(counts.shape), counts.contiguous().numpy().tobytes())

    def tensor(self) -> Tensor:
        return torch.frombuffer(bytearray(self.data), dtype=torch.int32).view(self.shape)

    def __repr__(self) -> str:
        digest = hashlib.sha1(self.data).hexdigest()[:10]
        return f"StaticLayout(shape={self.shape}, sha1={digest})"


def _check_counts(t, what: str) -> Tensor:
    """A bool/integer mask as int32 counts on the CPU, ``[nb, nb]`` or ``[heads, nb, nb]``."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(t).__name__}")
    if t.is_floating_point() or t.is_complex():
        raise TypeError(f"{what} must be a bool or integer tensor (counts), got {t.dtype}")
    if t.dim() not in (2, 3) or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"{what} must have shape [nb, nb] or [heads, nb, nb], got {tuple(t.shape)}")
    counts = t.detach().cpu().to(torch.int32)
    if counts.numel() and int(counts.min()) < 0:
        raise ValueError(f"{what} counts must be >= 0")
    return counts if counts.dim() == 3 else counts.unsqueeze(0)


LayoutSource = Union[StaticLayout, _layouts.LayoutGenerator, Callable[[int, int], Tensor]]


@dataclass(frozen=True, init=False)
class BlockSparse(Pattern):
    """Block-sparse attention pattern.

    ``layout``: a bool/integer tensor ``[nb, nb]`` or ``[heads, nb, nb]`` (integers are
    multiplicities, used by ``per_block_sum``), a callable ``(num_blocks, heads) -> mask``,
    a generator of ``ringlib.blocksparse`` (``local_window(...)``, ``dilated(...)``,
    ``global_local(...)``, ``hierarchical(...)``), or one of their names with the
    generator's parameters as keywords: ``BlockSparse("local_window", block_size=64,
    window_size=256)``. ``partial_tail="zero"`` accepts a sequence length that is not a
    multiple of ``block_size``: the tokens after the last whole block output 0 and are never
    attended to (the default ``"error"`` raises ValueError).

    Backends: ``reference`` (dense masks, float64), ``sdpa`` (batched active pairs, memory
    linear in n), ``flex`` (compiled FlexAttention, row softmax only; ``per_block_sum`` and
    dropout run ``sdpa``). ``auto`` picks ``flex`` on CUDA, else ``sdpa`` (``ringlib.dispatch``
    decides). No ``ordering``.
    """

    layout: LayoutSource
    block_size: int
    normalization: Literal["softmax", "per_block_sum"]
    partial_tail: Literal["error", "zero"]

    def __init__(self, layout, block_size: int = 128,
                 normalization: Literal["softmax", "per_block_sum"] = "softmax", *,
                 partial_tail: Literal["error", "zero"] = "error", **params) -> None:
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f"block_size must be a positive int, got {block_size!r}")
        if normalization not in ("softmax", "per_block_sum"):
            raise ValueError(f"normalization must be 'softmax' or 'per_block_sum', got {normalization!r}")
        if partial_tail not in ("error", "zero"):
            raise ValueError(f"partial_tail must be 'error' or 'zero', got {partial_tail!r}")
        if params and not isinstance(layout, str):
            raise TypeError(f"keyword arguments {sorted(params)} are only accepted with a named layout")
        if isinstance(layout, str):
            if layout not in _layouts.NAMED:
                raise ValueError(f"unknown layout {layout!r}; named layouts: {sorted(_layouts.NAMED)}")
            try:
                layout = _layouts.NAMED[layout](**params)
            except TypeError as err:
                raise TypeError(f"bad parameters for layout {layout!r}: {err}") from None
        if isinstance(layout, torch.Tensor):
            layout = StaticLayout.from_tensor(layout)
        elif isinstance(layout, _layouts.LayoutGenerator):
            layout = layout.with_block_size(block_size)
        elif not (isinstance(layout, StaticLayout) or callable(layout)):
            raise TypeError(
                "layout must be a bool/integer tensor, a callable (num_blocks, heads) -> mask, a "
                f"ringlib.blocksparse generator or a layout name, got {type(layout).__name__}"
            )
        object.__setattr__(self, "layout", layout)
        object.__setattr__(self, "block_size", block_size)
        object.__setattr__(self, "normalization", normalization)
        object.__setattr__(self, "partial_tail", partial_tail)
        remember(self)

    @property
    def combine(self) -> str:  # type: ignore[override]
        return "lse" if self.normalization == "softmax" else "sum"

    def counts(self, num_blocks: int, heads: int) -> Tensor:
        """The layout as int32 counts ``[1 or heads, nb, nb]`` on the CPU (cached; read only)."""
        return _counts(self, num_blocks, heads)

    def validate(self, n: int, heads: int) -> None:
        bs = self.block_size
        if n < bs:
            raise ValueError(f"sequence length {n} is shorter than one block (block_size {bs})")
        if n % bs and self.partial_tail == "error":
            raise ValueError(
                f"sequence length {n} must be divisible by block_size {bs} "
                "(or pass partial_tail='zero' to give the tokens after the last block output 0)"
            )
        _layout_heads(self.plan_key, n // bs, heads)

    # --- reference: straight from the definition, one explicit mask per part ---------------

    def reference_parts(self, n, heads, ordering):
        reject_ordering(ordering)
        bs, nb = self.block_size, n // self.block_size
        counts = self.counts(nb, heads).expand(heads, nb, nb)

        def blocks(rows: list[int], cols: list[int]) -> Tensor:
            allowed = torch.zeros(n, n, dtype=torch.bool)
            for i in rows:
                for j in cols:
                    allowed[i * bs:(i + 1) * bs, j * bs:(j + 1) * bs] = True
            return allowed

        # heads with the same layout share their parts
        groups: dict[bytes, list[int]] = {}
        for h in range(heads):
            groups.setdefault(counts[h].numpy().tobytes(), []).append(h)
        parts = []
        for head_list in groups.values():
            c, hs = counts[head_list[0]], tuple(head_list)
            if self.normalization == "softmax":  # one part: each query row sees its active blocks
                allowed = torch.zeros(n, n, dtype=torch.bool)
                for i in range(nb):
                    allowed |= blocks([i], [j for j in range(nb) if c[i, j] > 0])
                parts.append(ReferencePart(hs, allowed))
            else:  # one part per listed pair, weighted by its multiplicity
                parts.append(ReferencePart(hs, torch.zeros(n, n, dtype=torch.bool)))  # empty: keeps heads in the graph
                for i in range(nb):
                    for j in range(nb):
                        if c[i, j] > 0:
                            parts.append(ReferencePart(hs, blocks([i], [j]), float(c[i, j])))
        return parts

    # --- labels: block ids of positions and the layout as the table --------------------------

    def label_parts(self, n, heads, ordering):
        """``"softmax"``: one part per set of heads sharing a layout. ``"per_block_sum"``: every
        pair is softmaxed over its own key block and the pairs are summed with their
        multiplicity; the pairs are dealt into parts in which every query block has at most
        one key block (the k-th active block of each row goes to part k, split by
        multiplicity), so a part's softmax is exactly the per-pair one: as many parts as the
        densest row has pairs, not one per pair."""
        reject_ordering(ordering)
        bs, nb = self.block_size, n // self.block_size
        counts = self.counts(nb, heads)
        position = torch.arange(n)
        labels = torch.where(position < nb * bs, position // bs, -1)  # tail past the last block: none
        groups: dict[bytes, list[int]] = {}
        for h in range(heads):
            groups.setdefault(counts[min(h, counts.shape[0] - 1)].numpy().tobytes(), []).append(h)
        parts = []
        for head_list in groups.values():
            c = counts[min(head_list[0], counts.shape[0] - 1)]
            if self.normalization == "softmax":
                layers = [(c > 0, 1.0)]
            else:
                active = c > 0
                slot = active.long().cumsum(1) - 1  # index of each active block within its row
                layers = [(active & (slot == k) & (c == w), float(w))
                          for k in range(int(active.sum(1).max()) if active.any() else 0)
                          for w in torch.unique(c[active & (slot == k)]).tolist()]
            parts += [LabelPart(tuple(head_list), labels, labels, weight, table) for table, weight in layers]
        return parts

    # --- the work list of the batched-pairs route ----------------------------------------

    def pairs(self, n: int, heads: int, causal: bool, device) -> BlockPairs:
        return _pairs(self, n // self.block_size, heads, causal, torch.device(device))


def reject_ordering(ordering) -> None:
    """Block-sparse patterns are never reordered: their layout says which blocks meet."""
    if ordering is not None:
        raise ValueError("BlockSparse takes no ordering (pass ordering=None); permute the layout instead")


@torch._dynamo.assume_constant_result
def _layout_heads(pattern_key: str, nb: int, heads: int) -> int:
    """Evaluate and check the layout for (nb, heads) once (cached by ``_counts``); runs eagerly
    also while torch.compile traces, so the layout's values never enter a graph. Takes the
    pattern's ``plan_key``, not the pattern (``ringlib.patterns.remember``)."""
    return _counts(by_key(pattern_key), nb, heads).shape[0]


@functools.lru_cache(maxsize=256)
def _counts(pattern: BlockSparse, nb: int, heads: int) -> Tensor:
    layout = pattern.layout
    if isinstance(layout, StaticLayout):
        counts = layout.tensor().clone()
        what = "layout"
    else:
        counts = _check_counts(layout(nb, heads), f"layout {layout!r} output")
        what = f"layout {layout!r} output"
    if counts.shape[-1] != nb:
        raise ValueError(
            f"{what} has {counts.shape[-1]} blocks per side, but the sequence has {nb} blocks of "
            f"block_size {pattern.block_size}"
        )
    if counts.shape[0] not in (1, heads):
        raise ValueError(f"{what} has {counts.shape[0]} heads, expected 1 or {heads}")
    return counts


@functools.lru_cache(maxsize=256)
def _pairs(pattern: BlockSparse, nb: int, heads: int, causal: bool, device: torch.device) -> BlockPairs:
    return from_counts(pattern.counts(nb, heads), causal, device,
                       count_multiplicity=pattern.normalization == "per_block_sum")
