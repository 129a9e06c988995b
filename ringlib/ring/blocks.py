"""Block-sparse patterns on the ring: parts from the block layout, never from n x n masks.

``BlockSparse`` exposes its layout as counts ``[1 or heads, nb, nb]``. When every chunk a rank
holds is a whole number of blocks, each rank keeps only block-level masks of its query
blocks against each source's key blocks, and ``ring.masked`` runs them (expanded to tokens
per visited source, causal cut on global positions, sources without an active block skipped).

* ``normalization="softmax"``: one part per set of heads sharing a layout (row softmax over
  all active blocks, merged across sources by LSE);
* ``"per_block_sum"``: every pair is softmaxed over its own key block and the pairs are
  summed with their multiplicity. The pairs are dealt into parts in which every query
  block has at most one key block (the k-th active block of each row goes to part k, split
  by multiplicity), so a part's softmax is exactly the per-pair one and the "sum" rule adds
  them: as many parts as the densest row has pairs, not one per pair.
"""

from __future__ import annotations

import functools

import torch

from ringlib.ring.masked import Part, Parts, restrict
from ringlib.ring.sharding import chunks, positions


def applies(pattern, n: int, world: int, layout: str) -> bool:
    local_len = n // world
    chunk = chunks(layout, world, 0, local_len)[0][1]
    return hasattr(pattern, "counts") and hasattr(pattern, "block_size") and chunk % pattern.block_size == 0 \
        and n % pattern.block_size == 0


@functools.lru_cache(maxsize=32)
def build(pattern, n: int, heads: int, ordering, world: int, rank: int, layout: str, causal: bool) -> Parts:
    if ordering is not None:
        raise ValueError("BlockSparse takes no ordering (pass ordering=None); permute the layout instead")
    bs = pattern.block_size
    counts = pattern.counts(n // bs, heads)
    pos = [positions(layout, world, r, n // world) for r in range(world)]
    groups: dict[bytes, list[int]] = {}  # heads with the same layout share their parts
    for h in range(heads):
        groups.setdefault(counts[min(h, counts.shape[0] - 1)].numpy().tobytes(), []).append(h)
    parts = []
    for head_list in groups.values():
        c = counts[min(head_list[0], counts.shape[0] - 1)]
        hs = torch.tensor(head_list, dtype=torch.long)
        if pattern.normalization == "softmax":
            layers = [(c > 0, 1.0)]
        else:
            active = c > 0
            slot = active.long().cumsum(1) - 1  # index of each active block within its row
            layers = [(active & (slot == k) & (c == w), float(w))
                      for k in range(int(active.sum(1).max()) if active.any() else 0)
                      for w in torch.unique(c[active & (slot == k)]).tolist()]
        for allowed, weight in layers:
            blocks = restrict(allowed, pos, rank, causal, bs)
            if any(m is not None for m in blocks):
                parts.append(Part(hs, weight, blocks, bs))
    return Parts(tuple(parts), tuple(pos), causal, rank)
