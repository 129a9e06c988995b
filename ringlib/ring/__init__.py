"""Exact ring attention over ``torch.distributed``.

``attention`` is what ``ringlib.attention(..., group=pg)`` calls when the group has more
than one rank: every rank passes its shard of q, k, v (``layout`` says which rows a rank
holds, see ``ringlib.ring.sharding``) and gets the rows of the single-process result on the
concatenated sequence that it holds. Two strategies, tried in the order
``ringlib.dispatch`` gives (the first whose schedule fits the shards runs):

* ``ring.strided``: patterns with a strided plan (Dense, Dilated, the compat patterns) whose
  families either stay inside a shard (no communication) or cover whole shards (only the
  rows remote queries need travel, around rings of the ranks sharing a segment);
* ``ring.masked``: everything else: only the key/value rows remote queries need, exchanged
  pairwise (``ring.pairwise``), each tile's mask computed from the pattern's O(n) label
  parts (block ids and the layout for block-sparse patterns, ``ring.blocks``; segment and
  residue labels otherwise: segments straddling shards, orderings across shards,
  ``backend="reference"``).

Both merge partial results by log-sum-exp in float32 (``ringlib.lse``) and differentiate with
a custom autograd function that recomputes block by block. Under ``torch.compile`` the same
strategies run inside one custom operator per call (``ring.compiled``): no graph break.
"""

from __future__ import annotations

import torch

from ringlib.ring import compiled, eager
from ringlib.ring.faults import RingError
from ringlib.ring.sharding import LAYOUTS, check_layout, gather_sequence, shard_sequence

__all__ = ["attention", "shard_sequence", "gather_sequence", "LAYOUTS", "RingError"]

Tensor = torch.Tensor


def attention(q: Tensor, k: Tensor, v: Tensor, pattern, *, group, causal: bool = False,
              scale: float | None = None, ordering=None, dropout_p: float = 0.0,
              dropout_seed: int | None = None, backend: str = "auto", layout: str = "contiguous") -> Tensor:
    """Ring attention of this rank's shard (``(batch, L, heads, head_dim)``, all ranks equal
    ``L``) over the whole sequence of ``world * L`` rows. Every rank of ``group`` must call it
    with the same pattern and arguments. ``layout``: "contiguous" (rank r holds rows
    ``[r*L, (r+1)*L)``) or "zigzag" (see ``shard_sequence``; balances causal work).
    ``dropout_p > 0`` drops by position (``ringlib.dropout``) with ``dropout_seed``, or a
    seed each rank draws from torch's generator (all ranks must agree: checked).
    Under ``torch.compile`` the ring is one operator (``ring.compiled``): no graph break."""
    import torch.distributed as dist

    from ringlib import dispatch, run
    from ringlib.validation import validate
    from ringlib.orderings import validate_ordering

    world = 1 if group is None else dist.get_world_size(group)
    if world == 1:  # nothing to exchange: the single-process path
        check_layout(layout)
        if layout != "contiguous":
            raise ValueError("layout='zigzag' needs a process group of more than one rank")
        validate(q, k, v, pattern, causal=causal, scale=scale, dropout_p=dropout_p, backend=backend,
                 dropout_seed=dropout_seed)
        validate_ordering(ordering)
        scale = q.shape[-1] ** -0.5 if scale is None else float(scale)
        route = dispatch.choose(pattern, dispatch.Call.of(q, k, v), backend=backend, causal=causal,
                                ordering=ordering, dropout_p=dropout_p, dropout_seed=dropout_seed)
        return run.local(route, q, k, v, pattern, scale=scale, causal=causal, ordering=ordering,
                         dropout_p=dropout_p, dropout_seed=dropout_seed)
    if torch.compiler.is_compiling():
        return compiled.attention(q, k, v, pattern, group=group, causal=causal, scale=scale, ordering=ordering,
                                  dropout_p=dropout_p, dropout_seed=dropout_seed, backend=backend, layout=layout)
    strategy = eager.prepare(q, k, v, pattern, group=group, causal=causal, scale=scale, ordering=ordering,
                       dropout_p=dropout_p, dropout_seed=dropout_seed, backend=backend, layout=layout)
    q, k, v = (t.contiguous() for t in (q, k, v))
    return eager.RingFunction.apply(q, k, v, strategy)
