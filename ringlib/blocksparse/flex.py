"""The ``flex`` path: compiled FlexAttention with a BlockMask built from the layout.

The BlockMask is derived from the block layout directly (never from an ``n x n`` mask), at
FlexAttention's tile size (``KernelOptions.flex_tile``): a tile is *full* when every token pair in it is allowed
(no mask evaluated in the kernel), *partial* when some are (the ``mask_mod`` looks the layout
up per token: block sizes that are not multiples of the tile, the causal diagonal, a partial
tail) and absent otherwise. It is built once per (pattern, n, heads, causal, device) and
cached. Rows with no visible key come out as 0 (FlexAttention's rule), gradients too.

Only ``normalization="softmax"`` runs here: a per-pair softmax summed over pairs is not one
softmax per row, so ``per_block_sum`` takes the batched-pairs ``sdpa`` path, which on CUDA
already uses the flash kernel (every pair is an unmasked or top-left-causal ``bs x bs``
attention). A new sequence length or layout shape recompiles the kernel.
"""

from __future__ import annotations

import functools
import math

import torch

from ringlib import dispatch

Tensor = torch.Tensor


@functools.lru_cache(maxsize=None)
def _kernel(compiled: bool):
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False) if compiled else flex_attention


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


@functools.lru_cache(maxsize=64)
def block_mask(pattern, n: int, heads: int, causal: bool, device: torch.device, tile: int):
    """The cached BlockMask of a ``BlockSparse`` pattern."""
    from torch.nn.attention.flex_attention import BlockMask

    bs = pattern.block_size
    nb = n // bs
    active = (pattern.counts(nb, heads) > 0).to(device)  # [layout_heads, nb, nb]
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


def attention(q: Tensor, k: Tensor, v: Tensor, pattern, *, scale: float, causal: bool) -> Tensor:
    """Row-softmax block-sparse attention of ``(b, n, h, d)`` tensors with FlexAttention."""
    n, heads = q.shape[1], q.shape[2]
    opts = dispatch.options()
    mask = block_mask(pattern, n, heads, causal, q.device, opts.flex_tile)
    out = _kernel(opts.flex_compile)(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), block_mask=mask,
                           scale=scale)
    return out.transpose(1, 2)
