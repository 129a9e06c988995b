"""``ringlib.attention``: the one functional entry point."""

from __future__ import annotations

import torch

from ringlib import dispatch, ring, run
from ringlib.cores import AttentionCore
from ringlib.validation import validate
from ringlib.orderings import Ordering, validate_ordering
from ringlib.patterns import Pattern

Tensor = torch.Tensor


def attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    pattern: Pattern | AttentionCore,
    *,
    causal: bool = False,
    scale: float | None = None,
    ordering: Ordering = None,
    dropout_p: float = 0.0,
    dropout_seed: int | None = None,
    group=None,
    backend: str = "auto",
    layout: str = "contiguous",
) -> Tensor:
    """Attention of ``q`` over ``k``, ``v`` restricted and combined as ``pattern`` says.

    Tensors are ``(batch, seq, heads, head_dim)``. ``causal`` masks on original positions;
    ``scale`` defaults to ``head_dim ** -0.5``; ``ordering`` (None, "hilbert", "snake" or a
    callable ``m -> permutation``) permutes each segment of the pattern before it applies and
    is undone on the output; ``dropout_p`` acts on attention probabilities (pass 0.0 in
    eval). ``dropout_seed`` (an int) makes dropout a function of (seed, batch, head, query
    position, key position) (``ringlib.dropout``): reproducible, and the same entries with or
    without a ``group`` at any world size; without it one process uses torch's dropout and a
    ring draws the seed from torch's generator on each rank (ranks seeded alike agree; the
    ring's input check raises where they do not). With a ``torch.distributed`` process ``group`` each rank passes its contiguous
    shard of the sequence and gets its shard of the output (exact ring attention);
    ``layout="zigzag"`` says the shards were cut by ``ringlib.shard_sequence(..., layout="zigzag")``
    (balanced causal work).
    ``pattern`` may also be an attention core (``ringlib.AttentionCore``, e.g. the
    ``ringlib.compat`` ones): after the checks below it computes the call itself.
    ``backend``: "auto" (fastest valid), "reference" (float64-capable ground truth),
    "sdpa" (strided views + fused kernels) or "flex" (FlexAttention, block-sparse on CUDA);
    ``ringlib.dispatch`` says which kernel each runs, ``ringlib.kernel_options`` tunes them.
    """
    world = _world_size(group) if group is not None else 1
    if world > 1 and torch.compiler.is_compiling() and not isinstance(pattern, AttentionCore):  # one operator; it checks its inputs when it runs
        return ring.attention(q, k, v, pattern, group=group, causal=causal, scale=scale, ordering=ordering,
                              dropout_p=dropout_p, dropout_seed=dropout_seed, backend=backend, layout=layout)
    try:
        validate(q, k, v, pattern, causal=causal, scale=scale, dropout_p=dropout_p, backend=backend,
                 world=world, dropout_seed=dropout_seed)
        validate_ordering(ordering)
    except (TypeError, ValueError) as exc:
        if world > 1:  # the other ranks stop at once instead of waiting for this one
            from ringlib.ring.comm import tell_peers

            tell_peers(group, exc)
        raise
    if q.shape[1] == 0:  # an empty sequence attends to nothing: empty output, still differentiable
        return torch.einsum("blhd,bshe->blhe", q, v)
    if isinstance(pattern, AttentionCore):
        return pattern.attend(q, k, v, causal=causal, scale=scale, ordering=ordering, dropout_p=dropout_p,
                              dropout_seed=dropout_seed, group=group, backend=backend, layout=layout)
    scale = q.shape[-1] ** -0.5 if scale is None else float(scale)
    route = dispatch.choose(pattern, dispatch.Call.of(q, k, v, world), backend=backend, causal=causal,
                            ordering=ordering, dropout_p=dropout_p, layout=layout, dropout_seed=dropout_seed)
    if route.kernel == "ring":
        return ring.attention(q, k, v, pattern, group=group, causal=causal, scale=scale, ordering=ordering,
                              dropout_p=dropout_p, dropout_seed=dropout_seed, backend=backend, layout=layout)
    return run.local(route, q, k, v, pattern, scale=scale, causal=causal, ordering=ordering,
                     dropout_p=dropout_p, dropout_seed=dropout_seed)


def _world_size(group) -> int:
    import torch.distributed as dist

    return dist.get_world_size(group)
