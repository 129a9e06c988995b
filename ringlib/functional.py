"""``ringlib.attention``: the one functional entry point."""

from __future__ import annotations

import math

import torch

from ringlib.orderings import Ordering, validate_ordering
from ringlib.patterns import Pattern

Tensor = torch.Tensor
BACKENDS = ("auto", "reference", "sdpa", "flex")


def attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    pattern: Pattern,
    *,
    causal: bool = False,
    scale: float | None = None,
    ordering: Ordering = None,
    dropout_p: float = 0.0,
    group=None,
    backend: str = "auto",
    layout: str = "contiguous",
) -> Tensor:
    """Attention of ``q`` over ``k``, ``v`` restricted and combined as ``pattern`` says.

    Tensors are ``(batch, seq, heads, head_dim)``. ``causal`` masks on original positions;
    ``scale`` defaults to ``head_dim ** -0.5``; ``ordering`` (None, "hilbert", "snake" or a
    callable ``m -> permutation``) permutes each segment of the pattern before it applies and
    is undone on the output; ``dropout_p`` acts on attention probabilities (pass 0.0 in
    eval). With a ``torch.distributed`` process ``group`` each rank passes its contiguous
    shard of the sequence and gets its shard of the output (exact ring attention);
    ``layout="zigzag"`` says the shards were cut by ``ringlib.shard_sequence(..., layout="zigzag")``
    (balanced causal work).
    ``backend``: "auto" (fastest valid), "reference" (float64-capable ground truth),
    "sdpa" (strided views + fused kernels) or "flex" (FlexAttention, block-sparse on CUDA).
    """
    world = _world_size(group) if group is not None else 1
    validate(q, k, v, pattern, causal=causal, scale=scale, dropout_p=dropout_p, backend=backend,
             world=world)
    validate_ordering(ordering)
    if q.shape[1] == 0:  # an empty sequence attends to nothing: empty output, still differentiable
        return torch.einsum("blhd,bshe->blhe", q, v)
    scale = q.shape[-1] ** -0.5 if scale is None else float(scale)
    if world > 1 or layout != "contiguous":
        from ringlib import ring

        return ring.attention(q, k, v, pattern, group=group, causal=causal, scale=scale,
                              ordering=ordering, dropout_p=dropout_p, backend=backend, layout=layout)
    return pattern.run(q, k, v, backend=backend, scale=scale, causal=causal, ordering=ordering,
                       dropout_p=dropout_p)


def _world_size(group) -> int:
    import torch.distributed as dist

    return dist.get_world_size(group)


def validate(q, k, v, pattern, *, causal, scale, dropout_p, backend, world: int = 1) -> None:
    """Raise a clear error naming the argument and the rule (``world``: ranks sharing the
    sequence, each holding ``q.shape[1]`` rows of it)."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 4:
            raise ValueError(f"{name} must have shape (batch, seq, heads, head_dim), got {tuple(t.shape)}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"q, k, v must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if not (q.device == k.device == v.device):
        raise ValueError(f"q, k, v must be on one device, got {q.device}, {k.device}, {v.device}")
    for dim, what in ((0, "batch"), (2, "heads"), (3, "head_dim")):
        sizes = (q.shape[dim], k.shape[dim], v.shape[dim])
        if len(set(sizes)) != 1:
            raise ValueError(f"q, k, v must have equal {what} (dim {dim}), got {sizes}")
    if k.shape[1] != v.shape[1]:
        raise ValueError(f"k and v must have the same sequence length, got {k.shape[1]} and {v.shape[1]}")
    if q.shape[1] != k.shape[1]:
        raise ValueError(
            f"q and k must have the same sequence length for self-attention patterns, got "
            f"{q.shape[1]} and {k.shape[1]}"
        )
    if q.shape[2] < 1 or q.shape[3] < 1 or q.shape[0] < 1:
        raise ValueError(f"q must have batch, heads, head_dim >= 1, got {tuple(q.shape)}")
    if not isinstance(pattern, Pattern):
        raise TypeError(
            f"pattern must be a ringlib pattern (ringlib.Dense(), ringlib.Dilated(...), "
            f"ringlib.BlockSparse(...)), got {type(pattern).__name__}"
        )
    if not isinstance(causal, bool):
        raise TypeError(f"causal must be a bool, got {type(causal).__name__}")
    if scale is not None and not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite number or None, got {scale!r}")
    if not (0.0 <= dropout_p < 1.0):
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if q.shape[1] > 0:
        pattern.validate(q.shape[1] * world, q.shape[2])
