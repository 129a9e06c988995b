"""Active block pairs: the work list of the ``sdpa`` path.

Blocks are addressed by *slot* ``head * nb + block`` over the layout's heads (one layout
head for a shared layout). A pair (query slot, key slot) is one ``bs x bs`` attention; pairs
come in groups that share the causal flag of their kernel call: under ``causal=True`` the
diagonal pairs take the top-left causal cut, the pairs below the diagonal need no mask and
the pairs above it see nothing and are dropped. No pair ever needs an explicit mask, so the
fused kernels (flash on CPU and, in half precision, on CUDA) apply unchanged.

Pairs are sorted by query slot, and ``row_ptr`` (CSR pointers over slots, on the CPU) lets
the backends cut the work into chunks of whole rows without any device synchronisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

Tensor = torch.Tensor


@dataclass(frozen=True, eq=False)
class PairGroup:
    q_slot: Tensor  # (P,) long, non-decreasing
    kv_slot: Tensor  # (P,) long
    count: Tensor  # (P,) multiplicity (float, the acc dtype is chosen at run time)
    causal: bool  # top-left causal cut inside each pair (diagonal pairs under causal=True)
    row_ptr: tuple[int, ...]  # CSR pointers: pairs of slot s are [row_ptr[s], row_ptr[s+1])


@dataclass(frozen=True, eq=False)
class BlockPairs:
    groups: tuple[PairGroup, ...]
    slots: int  # layout heads * nb
    row_total: tuple[int, ...]  # cumulative pair count over all groups, per slot (len slots+1)

    def chunks(self, max_pairs: int) -> list[tuple[int, int]]:
        """Slot ranges ``[s0, s1)`` of whole rows holding about ``max_pairs`` pairs each."""
        total = torch.tensor(self.row_total)
        if total[-1] == 0:
            return []
        chunk_of = torch.div(total[:-1], max(1, max_pairs), rounding_mode="floor")
        cuts = (torch.nonzero(chunk_of[1:] != chunk_of[:-1]).flatten() + 1).tolist()
        edges = [0, *cuts, self.slots]
        return [(a, b) for a, b in zip(edges, edges[1:]) if total[b] > total[a]]


def _group(q_slot: Tensor, kv_slot: Tensor, count: Tensor, causal: bool, slots: int,
           device: torch.device) -> PairGroup:
    per_slot = torch.bincount(q_slot, minlength=slots)
    row_ptr = torch.cat([torch.zeros(1, dtype=torch.long), per_slot.cumsum(0)])
    return PairGroup(q_slot.to(device), kv_slot.to(device), count.to(device), causal,
                     tuple(row_ptr.tolist()))


def from_counts(counts: Tensor, causal: bool, device: torch.device, count_multiplicity: bool) -> BlockPairs:
    """Pairs of a counts tensor ``[layout_heads, nb, nb]``.

    ``count_multiplicity``: keep the counts as pair weights (``per_block_sum``); otherwise
    every active pair has weight 1 (the row softmax sees a set of blocks).
    """
    lh, nb, _ = counts.shape
    counts = counts.cpu()
    if causal:
        counts = counts.tril()
    h, i, j = counts.nonzero(as_tuple=True)  # row-major: sorted by (head, query block)
    weight = counts[h, i, j].double() if count_multiplicity else torch.ones(len(h), dtype=torch.float64)
    q_slot, kv_slot = h * nb + i, h * nb + j
    slots = lh * nb
    if causal:
        diag = i == j
        parts = [(~diag, False), (diag, True)]
    else:
        parts = [(torch.ones_like(i, dtype=torch.bool), False)]
    groups = tuple(_group(q_slot[m], kv_slot[m], weight[m], flag, slots, device)
                   for m, flag in parts if bool(m.any()))
    per_slot = torch.bincount(q_slot, minlength=slots)
    total = torch.cat([torch.zeros(1, dtype=torch.long), per_slot.cumsum(0)])
    return BlockPairs(groups, slots, tuple(total.tolist()))


def from_lists(q_slot: Tensor, kv_slot: Tensor, diagonal: Tensor, slots: int, causal: bool) -> tuple[BlockPairs, list[Tensor]]:
    """Pairs given as flat lists (sorted by ``q_slot``; pairs above the diagonal already
    dropped when causal). Returns the pairs and, per group, the positions of its pairs in the
    input lists (to route per-pair weights)."""
    device = q_slot.device
    cpu_q = q_slot.cpu()
    parts = [(~diagonal, False), (diagonal, True)] if causal else [(torch.ones_like(diagonal), False)]
    groups, where = [], []
    for m, flag in parts:
        idx = torch.nonzero(m).flatten()
        if len(idx) == 0:
            continue
        per_slot = torch.bincount(cpu_q[idx.cpu()], minlength=slots)
        row_ptr = torch.cat([torch.zeros(1, dtype=torch.long), per_slot.cumsum(0)])
        groups.append(PairGroup(q_slot[idx], kv_slot[idx], torch.ones(len(idx), device=device, dtype=torch.float64),
                                flag, tuple(row_ptr.tolist())))
        where.append(idx)
    per_slot = torch.bincount(cpu_q, minlength=slots)
    total = torch.cat([torch.zeros(1, dtype=torch.long), per_slot.cumsum(0)])
    return BlockPairs(tuple(groups), slots, tuple(total.tolist())), where
