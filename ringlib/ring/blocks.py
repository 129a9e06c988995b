"""Block-sparse patterns on the ring, from the block layout (never from n x n masks).

``BlockSparse.label_parts`` labels every position by its block and keeps the layout as the
parts' table (``patterns.LabelPart``), so ``ring.masked`` computes each tile's mask from the
layout. ``applies`` keeps these patterns on this route (the dispatch's "blocks" strategy)
when every chunk a rank holds is a whole number of blocks.
"""

from __future__ import annotations

from ringlib.ring import masked
from ringlib.ring.sharding import chunks


def applies(pattern, n: int, world: int, layout: str) -> bool:
    local_len = n // world
    chunk = chunks(layout, world, 0, local_len)[0][1]
    return hasattr(pattern, "counts") and hasattr(pattern, "block_size") and chunk % pattern.block_size == 0 \
        and n % pattern.block_size == 0


def build(pattern, n: int, heads: int, ordering, world: int, rank: int, layout: str, causal: bool) -> masked.Parts:
    if ordering is not None:
        raise ValueError("BlockSparse takes no ordering (pass ordering=None); permute the layout instead")
    return masked.build(pattern, n, heads, ordering, world, rank, layout, causal)
