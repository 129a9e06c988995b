"""The eager ring: choose a strategy for the call, check that the ranks agree, run it as an
autograd function. ``ring.attention`` calls it outside compilation; ``ring.compiled`` runs
the same ``prepare`` / ``strategy`` inside its custom operators."""

from __future__ import annotations

import torch

from ringlib.ring.sharding import check_layout

Tensor = torch.Tensor


class RingFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, strategy):
        from ringlib.ring.comm import inside_ring

        with inside_ring(strategy.group, "inside the ring (forward)"):
            out, saved = strategy.forward(q, k, v)
        ctx.strategy = strategy
        ctx.save_for_backward(q, k, v, out, *saved)
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v, out, *saved = ctx.saved_tensors
        from ringlib.ring.comm import inside_ring

        with inside_ring(ctx.strategy.group, "inside the ring (backward)"):
            dq, dk, dv = ctx.strategy.backward(dout.contiguous(), q, k, v, out, saved)
        return dq, dk, dv, None


def prepare(q: Tensor, k: Tensor, v: Tensor, pattern, *, group, causal: bool, scale: float | None, ordering,
            dropout_p: float, dropout_seed: int | None, backend: str, layout: str, check: bool = True):
    """The strategy of a call on a group of more than one rank. With ``check``: this rank's
    argument checks (its errors stop the other ranks at once) and the ranks' agreement
    (``comm.check_inputs``); a missing dropout seed is drawn. Without: only the strategy
    (the seed must be given), for a backward or a compiler's shape pass."""
    import torch.distributed as dist

    from ringlib import dispatch
    from ringlib.validation import validate
    from ringlib.orderings import validate_ordering
    from ringlib.dropout import draw_seed
    from ringlib.ring import comm

    world = dist.get_world_size(group)
    if check:
        with comm.before_ring(group):  # this rank's own errors stop the other ranks at once
            timeout = comm.ring_timeout(group)
            check_layout(layout)
            validate(q, k, v, pattern, causal=causal, scale=scale, dropout_p=dropout_p, backend=backend,
                     world=world, dropout_seed=dropout_seed)
            validate_ordering(ordering)
            if layout == "zigzag" and q.shape[1] % 2:
                raise ValueError(f"layout='zigzag' needs an even shard length, got {q.shape[1]}")
            if dropout_p > 0.0 and dropout_seed is None:
                dropout_seed = draw_seed()
            fields = comm.describe(q, k, v, pattern, causal=causal, scale=_scale(q, scale), ordering=ordering,
                                   dropout_p=dropout_p, backend=backend, layout=layout, n=world * q.shape[1],
                                   dropout_seed=dropout_seed)
        comm.check_inputs(group, fields, timeout)
    return strategy(pattern, dispatch.Call.of(q, k, v, world), group=group, causal=causal, scale=_scale(q, scale),
                    ordering=ordering, dropout_p=dropout_p, dropout_seed=dropout_seed, backend=backend,
                    layout=layout)


def _scale(q: Tensor, scale: float | None) -> float:
    return q.shape[-1] ** -0.5 if scale is None else float(scale)


def strategy(pattern, call, *, group, causal: bool, scale: float, ordering, dropout_p: float,
             dropout_seed: int | None, backend: str, layout: str):
    """The strategy ``ringlib.dispatch`` routes the call (``dispatch.Call``) to: strided where
    its schedule fits the shards, else masked (block-sparse layouts through ``ring.blocks``).
    Builds cached schedules only; nothing is communicated."""
    import torch.distributed as dist

    from ringlib import dispatch
    from ringlib.ring import blocks, masked, strided

    world, rank = dist.get_world_size(group), dist.get_rank(group)
    n, heads = world * call.length, call.heads
    key = (pattern, n, heads, ordering, world, rank, layout, causal)
    route = dispatch.choose(pattern, call, backend=backend, causal=causal, ordering=ordering, dropout_p=dropout_p,
                            layout=layout)
    schedule = strided.build(*key) if "strided" in route.ring else None
    if schedule is not None:
        return strided.Strategy(schedule, group, scale, math=route.math)
    use_blocks = "blocks" in route.ring and blocks.applies(pattern, n, world, layout)
    builder = blocks.build if use_blocks else masked.build
    return masked.Strategy(lambda r: builder(pattern, n, heads, ordering, world, r, layout, causal),
                           pattern.combine, group, scale, math=route.math,
                           dropout=(float(dropout_p), dropout_seed) if dropout_p > 0.0 else None)
