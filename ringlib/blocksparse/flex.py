"""The ``flex`` path: compiled FlexAttention with a BlockMask built from the layout.

The BlockMask is derived from the block layout directly (never from an ``n x n`` mask), at
FlexAttention's tile size (``KernelOptions.flex_tile``): a tile is *full* when every token pair in it is allowed
(no mask evaluated in the kernel), *partial* when some are (the ``mask_mod`` looks the layout
up per token: block sizes that are not multiples of the tile, the causal diagonal, a partial
tail) and absent otherwise. It is built once per (pattern, n, heads, causal, device)
(``ringlib.blocksparse.prepared``). Rows with no visible key come out as 0 (FlexAttention's rule), gradients too.

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
from ringlib.blocksparse import prepared

Tensor = torch.Tensor


@functools.lru_cache(maxsize=None)
def _kernel(compiled: bool, mode: str | None = None):
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False, mode=mode) if compiled else flex_attention


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


def build_block_mask(active: Tensor, bs: int, n: int, causal: bool, device: torch.device, tile: int):
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


_TRACED: dict[str, object] = {}  # BlockMasks named by compiled graphs


@torch._dynamo.assume_constant_result
def _traced_mask(pattern, n: int, heads: int, causal: bool, device: torch.device, tile: int) -> str:
    """Runs eagerly while torch.compile traces: files the BlockMask under a constant key."""
    entry_key = prepared.traced_key(pattern, n, heads, causal, device)
    key = f"{entry_key}|tile={tile}"
    _TRACED[key] = prepared.by_key(entry_key).block_mask(tile)
    return key


def attention(q: Tensor, k: Tensor, v: Tensor, pattern, *, scale: float, causal: bool) -> Tensor:
    """Row-softmax block-sparse attention of ``(b, n, h, d)`` tensors with FlexAttention.

    Eagerly: the prepared BlockMask and the compiled kernel (``KernelOptions.flex_compile``,
    ``flex_compile_mode``). Inside a torch.compile trace: FlexAttention itself, which the
    enclosing graph compiles, on the BlockMask filed under a constant key."""
    n, heads = q.shape[1], q.shape[2]
    opts = dispatch.options()
    qt, kt, vt = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    if torch.compiler.is_compiling():
        from torch.nn.attention.flex_attention import flex_attention

        mask = _TRACED[_traced_mask(pattern, n, heads, causal, q.device, opts.flex_tile)]
        return flex_attention(qt, kt, vt, block_mask=mask, scale=scale).transpose(1, 2)
    mask = prepared.prepare(pattern, n, heads, causal, q.device).block_mask(opts.flex_tile)
    out = _kernel(opts.flex_compile, opts.flex_compile_mode)(qt, kt, vt, block_mask=mask, scale=scale)
    if opts.flex_compile and opts.flex_compile_mode == "reduce-overhead":
        out = out.clone()  # the replayed CUDA graph owns its output buffer: the next replay rewrites it
    return out.transpose(1, 2)
