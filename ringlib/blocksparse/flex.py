"""The ``flex`` path: compiled FlexAttention with a BlockMask built from the layout.

The BlockMask is derived from the block layout directly (never from an ``n x n`` mask), at
FlexAttention's tile size (``KernelOptions.flex_tile``): a tile is *full* when every token pair in it is allowed
(no mask evaluated in the kernel), *partial* when some are (the ``mask_mod`` looks the layout
up per token: block sizes that are not multiples of the tile, the causal diagonal, a partial
tail) and absent otherwise. It is built once per (pattern, n, heads, causal, device)
(``ringlib.blocksparse.prepared``, through ``ringlib.blocksparse.block_mask``). Rows with no visible key come out as 0 (FlexAttention's rule), gradients too.

Only ``normalization="softmax"`` runs here: a per-pair softmax summed over pairs is not one
softmax per row, so ``per_block_sum`` takes the batched-pairs ``sdpa`` path, which on CUDA
already uses the flash kernel (every pair is an unmasked or top-left-causal ``bs x bs``
attention). A new sequence length or layout shape recompiles the kernel.
"""

from __future__ import annotations

import functools

import torch

from ringlib import dispatch
from ringlib.blocksparse import prepared

Tensor = torch.Tensor


@functools.lru_cache(maxsize=None)
def _kernel(compiled: bool, mode: str | None = None):
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False, mode=mode) if compiled else flex_attention


_TRACED: dict[str, object] = {}  # BlockMasks named by compiled graphs


@torch._dynamo.assume_constant_result
def _traced_mask(pattern_key: str, n: int, heads: int, causal: bool, device: torch.device, tile: int) -> str:
    """Runs eagerly while torch.compile traces: files the BlockMask under a constant key."""
    entry_key = prepared.traced_key(pattern_key, n, heads, causal, device)
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

        mask = _TRACED[_traced_mask(pattern.plan_key, n, heads, causal, q.device, opts.flex_tile)]
        return flex_attention(qt, kt, vt, block_mask=mask, scale=scale).transpose(1, 2)
    mask = prepared.prepare(pattern, n, heads, causal, q.device).block_mask(opts.flex_tile)
    out = _kernel(opts.flex_compile, opts.flex_compile_mode)(qt, kt, vt, block_mask=mask, scale=scale)
    if opts.flex_compile and opts.flex_compile_mode == "reduce-overhead":
        out = out.clone()  # the replayed CUDA graph owns its output buffer: the next replay rewrites it
    return out.transpose(1, 2)
