"""One process: run the route ``ringlib.dispatch.choose`` picked (one line per route).

The ``ring`` route is not here: ``ringlib.ring`` runs it, and comes back here when its
group has a single rank.
"""

from __future__ import annotations

import torch

from ringlib.backends import fused_forward, fused_plan, reference, strided
from ringlib.blocksparse import flex, sdpa
from ringlib.dispatch import Route
from ringlib.orderings import Ordering

Tensor = torch.Tensor


def local(route: Route, q: Tensor, k: Tensor, v: Tensor, pattern, *, scale: float, causal: bool,
          ordering: Ordering, dropout_p: float, dropout_seed: int | None = None) -> Tensor:
    """The pattern on this process's whole sequence along ``route`` (not ``ring``)."""
    if route.kernel == "reference":
        return reference.attention(q, k, v, pattern, scale=scale, causal=causal, ordering=ordering,
                                   dropout_p=dropout_p, dropout_seed=dropout_seed)
    if route.kernel == "one_launch":
        plan = pattern.plan(q.shape[1], q.shape[2])
        return fused_forward.plan_forward(q, k, v, plan, float(scale), bool(causal))[0]
    if route.kernel == "fused_plan":
        return fused_plan.attention(q, k, v, pattern.plan(q.shape[1], q.shape[2]), scale, causal)
    if route.kernel == "sdpa":
        return strided.attention(q, k, v, pattern, scale=scale, causal=causal, ordering=ordering,
                                 dropout_p=dropout_p)
    if route.kernel in ("flex", "pairs"):
        return _block_sparse(route.kernel, q, k, v, pattern, scale, causal, dropout_p)
    raise ValueError(f"route {route.kernel!r} does not run on one process")


def _block_sparse(kernel: str, q: Tensor, k: Tensor, v: Tensor, pattern, scale: float, causal: bool,
                  dropout_p: float) -> Tensor:
    if kernel == "flex":
        return flex.attention(q, k, v, pattern, scale=scale, causal=causal)
    return sdpa.pattern_attention(q, k, v, pattern, scale=scale, causal=causal, dropout_p=dropout_p)
