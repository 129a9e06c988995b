"""Generic ring strategy: any pattern, from its reference parts (explicit masks).

Used where ``ring.strided`` does not apply: patterns without a strided plan (block-sparse
layouts), segments that straddle shard boundaries, orderings across shards, and
``backend="reference"``. Every rank's whole key/value shard travels around a ring of all
ranks; for each part of ``pattern.reference_parts`` and each source shard, this rank's
queries attend to the source's keys under the part's mask restricted to (my rows, their
rows), skipping blocks where the mask is empty. Partial results merge by LSE per part; parts
combine by their rule ("lse" or weighted "sum"), exactly as the reference backend defines.

Cost: the masks of this rank's rows, ``parts x L x n`` booleans, are built once per
configuration and cached; compute is dense within each visited block. Exact, but meant for
the irregular cases; the strided strategy is the fast path.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from ringlib import lse as lse_ops
from ringlib.backends import kernels
from ringlib.ring import comm, loop
from ringlib.ring.sharding import positions

Tensor = torch.Tensor


@dataclass(frozen=True, eq=False)
class Part:
    """One part as this rank sees it: per source rank, which (my row, their row) blocks of
    ``block`` x ``block`` tokens may attend (None: nothing), before causal masking."""

    heads: Tensor  # (Hp,) long
    weight: float
    blocks: tuple[Tensor | None, ...]
    block: int = 1


@dataclass(frozen=True, eq=False)
class Parts:
    parts: tuple[Part, ...]
    positions: tuple[Tensor, ...]  # global positions of every rank's rows
    causal: bool


def restrict(allowed: Tensor, pos: list[Tensor], rank: int, causal: bool, block: int) -> tuple[Tensor | None, ...]:
    """Per source: ``allowed`` (global, in units of ``block``) on (my rows, their rows),
    None where nothing is visible (also under causal masking)."""
    mine = pos[rank][::block] // block
    out = []
    for src_pos in pos:
        theirs = src_pos[::block] // block
        m = allowed[mine][:, theirs]
        if causal:
            m = m & (theirs.unsqueeze(0) <= mine.unsqueeze(1))
        out.append(m if bool(m.any()) else None)
    return tuple(out)


@functools.lru_cache(maxsize=32)
def build(pattern, n: int, heads: int, ordering, world: int, rank: int, layout: str,
          causal: bool) -> Parts:
    """Parts from ``pattern.reference_parts`` (explicit n x n masks, any pattern)."""
    local_len = n // world
    pos = [positions(layout, world, r, local_len) for r in range(world)]
    out = []
    for part in pattern.reference_parts(n, heads, ordering):
        blocks = restrict(part.allowed, pos, rank, causal, 1)
        if any(m is not None for m in blocks):
            out.append(Part(torch.tensor(part.heads, dtype=torch.long), part.weight, blocks))
    return Parts(tuple(out), tuple(pos), causal)


class Strategy:
    def __init__(self, parts: Parts, combine: str, group, scale: float, math: bool) -> None:
        self.parts = parts.parts
        self.positions = parts.positions
        self.causal = parts.causal
        self.combine = combine
        self.group = group
        self.scale = scale
        self.forward_kernel = kernels.math_forward if math else kernels.forward
        self.backward_kernel = kernels.math_backward if math else kernels.backward
        self.ring = comm.Ring(range(dist_world(group)), group)

    def _heads(self, x: Tensor, part: Part) -> Tensor:
        """``(b, L, H, d)`` -> the part's heads as ``(b, Hp, L, d)``."""
        return x.index_select(2, part.heads.to(x.device)).transpose(1, 2).contiguous()

    def _mask(self, part: Part, src: int, device):
        """(mask with every empty row opened, rows that really see a key) or None."""
        m = part.blocks[src]
        if m is None:
            return None
        m = m.to(device)
        if part.block > 1:
            m = m.repeat_interleave(part.block, 0).repeat_interleave(part.block, 1)
        if self.causal:
            mine, theirs = self.positions[self.ring.pos].to(device), self.positions[src].to(device)
            m = m & (theirs.unsqueeze(0) <= mine.unsqueeze(1))
        ok = m.any(-1)
        return m | ~ok.unsqueeze(-1), ok

    def _sources(self, q: Tensor, k: Tensor, v: Tensor, visit) -> None:
        """``visit(src, k, v)`` for the own shard, then for every shard arriving on the ring."""
        pending = self.ring.post(torch.cat([k.reshape(-1), v.reshape(-1)]), "keys/values")
        visit(self.ring.source(0), k, v)

        def compute(step: int, buf: Tensor) -> None:
            kk, vv = buf.view(2, *k.shape).unbind(0)
            visit(self.ring.source(step), kk, vv)

        loop.run_forward(self.ring, pending, compute)

    def forward(self, q: Tensor, k: Tensor, v: Tensor):
        acc = torch.float64 if q.dtype == torch.float64 else torch.float32
        b, n, h, d = q.shape
        qs = [self._heads(q, p) for p in self.parts]
        acc_o = [torch.zeros(*x.shape, dtype=acc, device=q.device) for x in qs]
        acc_l = [torch.full(x.shape[:-1], float("-inf"), dtype=acc, device=q.device) for x in qs]

        def visit(src: int, kk: Tensor, vv: Tensor) -> None:
            for i, part in enumerate(self.parts):
                fixed = self._mask(part, src, q.device)
                if fixed is None:
                    continue
                mask, ok = fixed
                o, lse = self.forward_kernel(qs[i], self._heads(kk, part), self._heads(vv, part),
                                             self.scale, False, mask)
                lse_ops.merge_(acc_o[i], acc_l[i], o * ok.unsqueeze(-1), lse.masked_fill(~ok, float("-inf")))

        self._sources(q, k, v, visit)
        out = torch.zeros(b, h, n, d, dtype=acc, device=q.device)
        total = torch.full((b, h, n), float("-inf"), dtype=acc, device=q.device)
        for part, o, lse in zip(self.parts, acc_o, acc_l):
            idx = part.heads.to(q.device)
            if self.combine == "lse":
                merged_o, merged_l = lse_ops.merge(out[:, idx], total[:, idx], o, lse)
                out[:, idx], total[:, idx] = merged_o, merged_l
            else:
                out[:, idx] += o * part.weight
        out = out.transpose(1, 2).to(q.dtype)
        if self.combine == "lse":
            return out, (total.transpose(1, 2),)
        return out, tuple(o.to(q.dtype) for o in acc_o) + tuple(acc_l)

    def backward(self, dout: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, saved):
        acc = torch.float64 if q.dtype == torch.float64 else torch.float32
        parts = self.parts
        qs = [self._heads(q, p) for p in parts]
        dos = [self._heads(dout.to(q.dtype), p) for p in parts]
        if self.combine == "lse":
            os_ = [self._heads(out, p) for p in parts]
            ls = [saved[0].index_select(2, p.heads.to(q.device)).transpose(1, 2) for p in parts]
        else:
            os_, ls = saved[:len(parts)], saved[len(parts):]
            dos = [do * p.weight for do, p in zip(dos, parts)]
        dq = torch.zeros(q.shape, dtype=acc, device=q.device)

        def grads_for(src: int, kk: Tensor, vv: Tensor, dk: Tensor, dv: Tensor) -> None:
            """Add this rank's gradients: dq, and (dk, dv) of the source's rows."""
            for i, part in enumerate(parts):
                fixed = self._mask(part, src, q.device)
                if fixed is None:
                    continue
                mask, ok = fixed
                do = dos[i] * ok.unsqueeze(-1)  # rows without keys here: no gradient
                lse = ls[i].masked_fill(~ok, float("inf")).contiguous()
                gq, gk, gv = self.backward_kernel(do.contiguous(), qs[i], self._heads(kk, part),
                                                  self._heads(vv, part), os_[i].contiguous(), lse,
                                                  self.scale, False, mask)
                idx = part.heads.to(q.device)
                dq.index_add_(2, idx, gq.transpose(1, 2).to(acc))
                dk.index_add_(2, idx, gk.transpose(1, 2).to(acc))
                dv.index_add_(2, idx, gv.transpose(1, 2).to(acc))

        pending = self.ring.post(torch.cat([k.reshape(-1), v.reshape(-1)]), "keys/values")
        dk = torch.zeros(k.shape, dtype=acc, device=q.device)
        dv = torch.zeros(v.shape, dtype=acc, device=q.device)
        grads_for(self.ring.source(0), k, v, dk, dv)

        def contribute(step: int, buf: Tensor, grad: Tensor) -> None:
            kk, vv = buf.view(2, *k.shape).unbind(0)
            gk, gv = grad.view(2, *k.shape).unbind(0)
            grads_for(self.ring.source(step), kk, vv, gk, gv)

        home = loop.run_backward(self.ring, pending, contribute, lambda p: loop.zeros_like_payload(p, acc))
        home = home.view(2, *k.shape)
        dk.add_(home[0])
        dv.add_(home[1])
        del home
        return dq.to(q.dtype), dk.to(q.dtype), dv.to(q.dtype)


def dist_world(group) -> int:
    import torch.distributed as dist

    return dist.get_world_size(group)
