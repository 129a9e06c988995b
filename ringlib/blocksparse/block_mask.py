"""FlexAttention's ``BlockMask`` of a block layout, derived from the layout itself.

At FlexAttention's tile size a tile is *full* when every token pair in it is allowed (no mask
evaluated in the kernel), *partial* when some are (the ``mask_mod`` looks the layout up per
token) and absent otherwise. Its own module because both the cache that keeps one per call
(``ringlib.blocksparse.prepared``) and the ``flex`` path that runs it need it.
"""

from __future__ import annotations

import math

import torch

Tensor = torch.Tensor


def _tiles(active: Tensor, nb: int, bs: int, n: int, tile: int, causal: bool):
    """(full, partial) bool ``[layout_heads, tiles_q, tiles_k]`` from the block layout."""
    g = math.gcd(bs, tile)
    per_tile = tile // g
    tiles = -(-n // tile)
    cell = torch.arange(tiles * per_tile, device=active.device) * g
    block = torch.where(cell < nb * bs, cell // bs, nb)  # index nb = "no block" (tail, padding)
    padded = torch.nn.functional.pad(active, (0, 1, 0, 1))
    fine = padded[:, block[:, None], block[None, :]]  # exact layout at granularity g
    if causal:  # cell (a, c): some key <= some query / every key <= every query
        some = cell[None, :] <= cell[:, None] + g - 1
        every = cell[None, :] + g - 1 <= cell[:, None]
        fine_any, fine_all = fine & some, fine & every
    else:
        fine_any = fine_all = fine
    shape = (-1, tiles, per_tile, tiles, per_tile)
    full = fine_all.view(shape).all(4).all(2)
    partial = fine_any.view(shape).any(4).any(2) & ~full
    return full, partial


def _csr(blocks: Tensor) -> tuple[Tensor, Tensor]:
    num = blocks.sum(-1, dtype=torch.int32)
    idx = torch.argsort(blocks.to(torch.int8), dim=-1, descending=True, stable=True).to(torch.int32)
    return num.unsqueeze(0).contiguous(), idx.unsqueeze(0).contiguous()


def build(active: Tensor, bs: int, n: int, causal: bool, device: torch.device, tile: int):
    """The BlockMask of a block layout ``active`` (bool ``[layout_heads, nb, nb]``); built
    once per prepared call (``ringlib.blocksparse.prepared``)."""
    from torch.nn.attention.flex_attention import BlockMask

    nb = active.shape[-1]
    active = active.to(device)
    full, partial = _tiles(active, nb, bs, n, tile, causal)
    table = torch.nn.functional.pad(active, (0, 1, 0, 1))
    per_head = table.shape[0] > 1

    def mask_mod(b, h, q_idx, kv_idx):
        qb = torch.clamp(q_idx // bs, max=nb)
        kb = torch.clamp(kv_idx // bs, max=nb)
        allowed = table[h if per_head else 0, qb, kb]
        if causal:
            allowed = allowed & (kv_idx <= q_idx)
        return allowed

    num, idx = _csr(partial)
    full_num, full_idx = _csr(full)
    return BlockMask.from_kv_blocks(num, idx, full_num, full_idx, BLOCK_SIZE=tile, mask_mod=mask_mod,
                                    seq_lengths=(n, n))
