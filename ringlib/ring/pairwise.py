"""Pairwise exchange of only the key/value rows remote queries need (the masked strategy's wire).

In round ``s`` (1..world-1) a rank sends to rank ``+s`` the rows (per head) of its keys and
values that some query of that rank may attend, and receives from rank ``-s`` the rows it
needs of that rank's keys and values: what ``ringlib.ring.traffic`` counts as the least a
pattern needs. Both sides compute the row sets from the pattern's parts (no index travels);
a pair with nothing to exchange posts nothing. The backward exchanges the rows again (for
recomputation) and sends their gradients back to their owner in the same round.

Rows travel compacted: a ``(batch, rows x heads, head_dim)`` tensor of the needed (row, head)
pairs in row-major order; ``Rows`` maps (row, head) to its slot there. Only the next
round's exchange is in flight while a round computes (double buffering).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ringlib.ring.comm import Ring

Tensor = torch.Tensor

KEYS_VALUES, RECOMPUTE, GRADIENTS = 0, 1, 2  # transfer kinds, kept apart by tag


def needed(parts, src: int, heads: int, local_len: int) -> Tensor:
    """``(local_len, heads)`` booleans: rows of ``src``'s keys that queries of the rank whose
    view ``parts`` is (a ``masked.Parts``) may attend, per head (causal cut on global
    positions). Computed from the parts' labels: O(rows + labels), never O(rows x rows)."""
    used = torch.zeros(heads, local_len, dtype=torch.bool)
    mine, theirs = parts.positions[parts.rank], parts.positions[src]
    for part in parts.parts:
        used[part.heads] |= part.labels.seen(mine, theirs, parts.causal)
    return used.T.contiguous()


@dataclass(frozen=True, eq=False)
class Rows:
    """Compacted (row, head) pairs of a shard: ``index`` into ``(rows x heads)`` flat order,
    ``slot`` the inverse (-1: not held)."""

    index: Tensor
    slot: Tensor
    heads: int

    @staticmethod
    def of(mask: Tensor, device) -> "Rows":
        flat = mask.flatten()
        index = torch.nonzero(flat).flatten()
        slot = torch.full((flat.numel(),), -1, dtype=torch.long)
        slot[index] = torch.arange(len(index))
        return Rows(index.to(device), slot.to(device), mask.shape[1])

    @staticmethod
    def whole(local_len: int, heads: int, device) -> "Rows":
        index = torch.arange(local_len * heads, device=device)
        return Rows(index, index, heads)

    def __len__(self) -> int:
        return len(self.index)

    def gather(self, x: Tensor) -> Tensor:
        """The held pairs of a ``(b, L, H, d)`` shard, compacted to ``(b, len, d)``."""
        b, L, H, d = x.shape
        return x.reshape(b, L * H, d).index_select(1, self.index)

    def _slots(self, rows: Tensor, heads: Tensor) -> Tensor:
        # pairs not held are masked out wherever they are used (their weight is exactly 0):
        # point them at slot 0 instead of materialising zeros
        return self.slot[rows.unsqueeze(0) * self.heads + heads.unsqueeze(1)].clamp_(min=0)

    def take(self, x: Tensor, rows: Tensor, heads: Tensor) -> Tensor:
        """``x`` (compacted ``(b, len, d)``) at (rows, heads) as ``(b, Hp, len(rows), d)``."""
        b, _, d = x.shape
        return x.index_select(1, self._slots(rows, heads).flatten()).view(b, len(heads), len(rows), d)

    def add_(self, dst: Tensor, rows: Tensor, heads: Tensor, src: Tensor) -> None:
        """``dst`` (compacted) at (rows, heads) += ``src`` ``(b, Hp, len(rows), d)``."""
        b, _, d = dst.shape
        dst.index_add_(1, self._slots(rows, heads).flatten(), src.reshape(b, -1, d).to(dst.dtype))


class Schedule:
    """The rows this rank sends and receives in every round. ``view(rank)``: the parts of
    that rank's queries (every rank computes every view it exchanges with)."""

    def __init__(self, ring: Ring, view: Callable[[int], object], heads: int, local_len: int, device) -> None:
        self.ring, self.size = ring, ring.size
        me = ring.pos
        mine = view(ring.ranks[me])
        self.send, self.recv = [None], [None]  # per round s: Rows to rank +s, Rows from rank -s
        for s in range(1, self.size):
            dst, src = ring.ranks[(me + s) % self.size], ring.ranks[(me - s) % self.size]
            self.send.append(Rows.of(needed(view(dst), ring.ranks[me], heads, local_len), device))
            self.recv.append(Rows.of(needed(mine, src, heads, local_len), device))

    def peer(self, s: int, sign: int) -> int:
        return self.ring.ranks[(self.ring.pos + sign * s) % self.size]

    def post(self, s: int, k: Tensor, v: Tensor, kind: int):
        """Round ``s``: this rank's needed k/v rows to rank +s, rank -s's to this rank."""
        send, recv = self.send[s], self.recv[s]
        b, _, _, d = k.shape
        sends = [(send.gather(t), self.peer(s, 1)) for t in (k, v)] if len(send) else []
        bufs = [k.new_empty(b, len(recv), d) for _ in range(2)] if len(recv) else []
        return self.ring.exchange(sends, [(t, self.peer(s, -1)) for t in bufs], "keys/values", received=bufs,
                                  tag=self.size * kind + s)

    def post_grads(self, s: int, grads: list[Tensor], like: Tensor):
        """Round ``s``: gradients of rank -s's rows back to it, those of this rank's rows
        sent to rank +s back here."""
        send, recv = self.recv[s], self.send[s]
        sends = [(g, self.peer(s, -1)) for g in grads] if len(send) else []
        bufs = [like.new_empty(like.shape[0], len(recv), like.shape[-1]) for _ in range(2)] if len(recv) else []
        return self.ring.exchange(sends, [(t, self.peer(s, 1)) for t in bufs], "key/value gradients",
                                  received=bufs, tag=self.size * GRADIENTS + s)


def run_forward(schedule: Schedule, k: Tensor, v: Tensor, visit: Callable[[int, Rows, list], None]) -> None:
    """``visit(src, rows, [k_rows, v_rows])`` for every round with rows to receive, the next
    round's exchange in flight meanwhile."""
    pending = schedule.post(1, k, v, KEYS_VALUES) if schedule.size > 1 else None
    for s in range(1, schedule.size):
        received = pending.wait()
        pending = schedule.post(s + 1, k, v, KEYS_VALUES) if s + 1 < schedule.size else None
        if received:
            visit(schedule.peer(s, -1), schedule.recv[s], received)
        received = None


def run_backward(schedule: Schedule, k: Tensor, v: Tensor, dk: Tensor, dv: Tensor, acc: torch.dtype,
                 contribute: Callable[[int, Rows, list, list], None]) -> None:
    """``contribute(src, rows, [k_rows, v_rows], [dk_rows, dv_rows])`` adds this rank's
    gradient of the received rows; they go back to their owner while the next round
    computes, and the gradients of this rank's rows coming back are added to ``dk``/``dv``."""
    b, L, H, d = k.shape
    flat_dk, flat_dv = dk.view(b, L * H, d), dv.view(b, L * H, d)
    pending = schedule.post(1, k, v, RECOMPUTE) if schedule.size > 1 else None
    returning, returning_rows = None, None

    def settle():
        if returning is not None:
            back = returning.wait()
            if back:
                flat_dk.index_add_(1, returning_rows.index, back[0])
                flat_dv.index_add_(1, returning_rows.index, back[1])

    for s in range(1, schedule.size):
        received = pending.wait()
        pending = schedule.post(s + 1, k, v, RECOMPUTE) if s + 1 < schedule.size else None
        grads = [torch.zeros(b, len(schedule.recv[s]), d, dtype=acc, device=k.device) for _ in range(2)]
        if received:
            contribute(schedule.peer(s, -1), schedule.recv[s], received, grads)
        received = None
        settle()
        returning, returning_rows = schedule.post_grads(s, grads, flat_dk), schedule.send[s]
        grads = None
    settle()
