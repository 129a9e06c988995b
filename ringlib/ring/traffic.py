"""The least key/value traffic a sharded attention pattern needs, computed from its masks.

Each rank computes the queries it holds, so rank ``src`` must send, to every other rank
``dst``, the key and value rows (per head) that some query of ``dst`` may attend: the
pattern's reference masks (``pattern.reference_parts``, causal cut on global positions)
restricted to (rows of ``dst``, rows of ``src``). No schedule can send less. A forward pass
sends those rows once; a backward that recomputes sends them again, and every rank returns
the gradients of the rows it received to their owners: forward + backward, a rank sends twice
the rows others need of it plus once the rows it needs of others (three times the forward
bytes where the pattern is symmetric).

Builds ``n x n`` masks: meant for checking schedules at test sizes, not for the hot path.
"""

from __future__ import annotations

import torch

from ringlib.ring.sharding import positions


def needed_rows(pattern, n: int, heads: int, world: int, layout: str = "contiguous", causal: bool = False,
                ordering=None) -> torch.Tensor:
    """``(world dst, world src, heads)``: key rows of ``src`` that queries of ``dst`` need."""
    allowed = torch.zeros(heads, n, n, dtype=torch.bool)
    for part in pattern.reference_parts(n, heads, ordering):
        allowed[list(part.heads)] |= part.allowed
    if causal:
        allowed &= torch.ones(n, n, dtype=torch.bool).tril()
    pos = [positions(layout, world, r, n // world) for r in range(world)]
    need = torch.zeros(world, world, heads, dtype=torch.long)
    for dst in range(world):
        rows = allowed[:, pos[dst]]  # (heads, L, n)
        used = rows.any(1)  # (heads, n): keys some query of dst attends
        for src in range(world):
            need[dst, src] = used[:, pos[src]].sum(-1)
    return need


def minimum_bytes(pattern, n: int, heads: int, world: int, *, batch: int, head_dim: int, itemsize: int,
                  layout: str = "contiguous", causal: bool = False, ordering=None, backward: bool = True) -> list[int]:
    """Per rank, the least bytes it must send (keys and values; with ``backward``, also
    again for the recomputation, and the key/value gradients of the rows it received back)."""
    need = needed_rows(pattern, n, heads, world, layout, causal, ordering)
    need = need * (1 - torch.eye(world, dtype=torch.long)).unsqueeze(-1)  # nothing to send to oneself
    per_src = need.sum((0, 2))  # rows x heads each source sends
    per_dst = need.sum((1, 2))  # rows x heads each rank receives (and returns gradients of)
    rows = 2 * per_src + per_dst if backward else per_src
    factor = 2 * batch * head_dim * itemsize
    return [int(x) * factor for x in rows]
