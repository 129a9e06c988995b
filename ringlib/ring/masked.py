"""Generic ring strategy: any pattern, from its label parts (``pattern.label_parts``).

Used where ``ring.strided`` does not apply: patterns without a strided plan (block-sparse
layouts), segments that straddle shard boundaries, orderings across shards, and
``backend="reference"``. Each part is O(n) labels of positions (``patterns.LabelPart``);
every tile's mask is computed from them for the tile's rows and keys only. Every rank
receives from every other rank only the key/value rows (per head) its queries may attend
(``ring.pairwise``); for each part and each source shard, this rank's query tiles attend to
the source's keys some query of the tile may see, skipping tiles that see none. Partial
results merge by LSE per part; parts combine by their rule ("lse" or weighted "sum"),
exactly as the reference backend defines.

Dropout (``dropout=(p, seed)``, math kernels only: ``ringlib.dispatch`` routes such calls
here with ``math=True``) multiplies each tile's probabilities by ``ringlib.dropout``'s mask of
the tile's global (batch, head, query, key) positions, in the forward and again in the
backward: no mask is stored or sent, and any world size drops the same entries.

Cost: ``parts x n`` labels, built once per configuration and cached; no mask of more than a
tile (query tile x its keys, the kernel's score size) ever exists; compute is dense within each
tile. Exact, but meant for the irregular cases; the strided strategy is the fast path.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from ringlib import lse as lse_ops
from ringlib.dropout import multiplier as dropout_multiplier
from ringlib.backends import kernels
from ringlib.patterns import LabelPart
from ringlib.ring import comm, pairwise
from ringlib.ring.sharding import positions

Tensor = torch.Tensor


@dataclass(frozen=True, eq=False)
class Part:
    """One part as the ring runs it: its heads (a tensor), weight, and ``labels`` (the
    pattern's ``LabelPart``: O(n) labels, each tile's mask computed from them on the fly)."""

    heads: Tensor  # (Hp,) long
    weight: float
    labels: LabelPart


@dataclass(frozen=True, eq=False)
class Parts:
    parts: tuple[Part, ...]
    positions: tuple[Tensor, ...]  # global positions of every rank's rows
    causal: bool
    rank: int  # whose view: the queries are this rank's rows


@functools.lru_cache(maxsize=32)
def build(pattern, n: int, heads: int, ordering, world: int, rank: int, layout: str,
          causal: bool) -> Parts:
    """Parts from ``pattern.label_parts`` (any pattern), those where no query of this rank
    sees any key dropped. O(parts x n) memory."""
    local_len = n // world
    pos = [positions(layout, world, r, local_len) for r in range(world)]
    every = torch.arange(n)
    out = [Part(torch.tensor(part.heads, dtype=torch.long), part.weight, part)
           for part in pattern.label_parts(n, heads, ordering)
           if part.heads and bool(part.seen(pos[rank], every, causal).any())]
    return Parts(tuple(out), tuple(pos), causal, rank)


TILES = 4
"""Query rows of a (part, source) are cut into this many tiles (at least ``MIN_TILE`` rows):
per tile only the key rows some of its queries may attend are gathered, so masks, kernel
operands and kernel outputs stay a fraction of a shard."""
MIN_TILE = 128


def _scatter_add_(dst: Tensor, rows: Tensor, heads: Tensor, src: Tensor) -> None:
    """``dst[:, rows, heads] += src`` for ``dst`` ``(b, L, H, d)`` and ``src`` ``(b, Hp, len(rows), d)``."""
    b, L, H, d = dst.shape
    flat = rows.unsqueeze(0) * H + heads.unsqueeze(1)  # (Hp, rows)
    dst.view(b, L * H, d).index_add_(1, flat.flatten(), src.reshape(b, -1, d).to(dst.dtype))


def _take(x: Tensor, rows: Tensor, heads: Tensor) -> Tensor:
    """``x[:, rows, heads]`` of ``(b, L, H, d)`` as ``(b, Hp, len(rows), d)`` (a copy of those rows only)."""
    return x.index_select(1, rows).index_select(2, heads).transpose(1, 2)


class Strategy:
    """``view(rank)``: the ``Parts`` of that rank's queries (this rank's, and those of the
    ranks it exchanges with, to know which rows they need)."""

    def __init__(self, view, combine: str, group, scale: float, math: bool,
                 dropout: tuple[float, int] | None = None) -> None:
        parts = view(dist_rank(group))
        self.view = view
        self.parts = parts.parts
        self.positions = parts.positions
        self.causal = parts.causal
        self.combine = combine
        self.group = group
        self.scale = scale
        self.forward_kernel = kernels.math_forward if math else kernels.forward
        self.backward_kernel = kernels.math_backward if math else kernels.backward
        self.ring = comm.Ring(range(dist_world(group)), group)
        self._schedule = None
        if dropout is not None and not math:
            raise ValueError("dropout in the masked ring strategy needs its math kernels (math=True)")
        self.dropout = dropout

    def _drop(self, src: int, batch: int, heads: Tensor, rows: Tensor, keys: Tensor, dtype) -> dict:
        """The kernels' ``drop`` argument for a tile (none without dropout)."""
        if self.dropout is None:
            return {}
        p, seed = self.dropout
        mine, theirs = (self.positions[r].to(rows.device) for r in (self.ring.pos, src))
        return {"drop": dropout_multiplier(seed, batch, heads, mine[rows], theirs[keys], p, dtype)}

    def schedule(self, k: Tensor) -> pairwise.Schedule:
        if self._schedule is None:
            self._schedule = pairwise.Schedule(self.ring, self.view, k.shape[2], k.shape[1], k.device)
        return self._schedule

    def _tiles(self, part: Part, src: int, device):
        """Per query tile of this rank with a visible key of ``src``: (query rows, key rows,
        mask with every empty row opened, rows that really see a key); the mask is computed
        from the part's labels for these rows and keys only."""
        mine, theirs = self.positions[self.ring.pos], self.positions[src]
        step = max(-(-len(mine) // TILES), MIN_TILE)
        for a in range(0, len(mine), step):
            rows = torch.arange(a, min(a + step, len(mine)))
            keys = torch.nonzero(part.labels.seen(mine[rows], theirs, self.causal)).flatten()
            if len(keys) == 0:
                continue
            mask = part.labels.allowed(mine[rows], theirs[keys])
            if self.causal:
                mask = mask & (theirs[keys].unsqueeze(0) <= mine[rows].unsqueeze(1))
            ok = mask.any(-1)
            yield rows.to(device), keys.to(device), (mask | ~ok.unsqueeze(-1)).to(device), ok.to(device)

    def _sources(self, k: Tensor, v: Tensor, visit) -> None:
        """``visit(src, rows, [k, v])`` (compacted, see ``pairwise.Rows``) for the own shard,
        then for the rows every other rank sends."""
        own = pairwise.Rows.whole(k.shape[1], k.shape[2], k.device)
        visit(self.ring.pos, own, [t.view(t.shape[0], -1, t.shape[-1]) for t in (k, v)])
        pairwise.run_forward(self.schedule(k), k, v, visit)

    def saved_specs(self, shape: tuple[int, ...], dtype: torch.dtype) -> list[tuple[tuple[int, ...], torch.dtype]]:
        """Shapes and dtypes of what ``forward`` saves for the backward (for a compiler)."""
        acc = torch.float64 if dtype == torch.float64 else torch.float32
        b, n, h, d = shape
        if self.combine == "lse":
            return [((b, n, h), acc)]
        return [((b, len(p.heads), n, d), dtype) for p in self.parts] + \
            [((b, len(p.heads), n), acc) for p in self.parts]

    def forward(self, q: Tensor, k: Tensor, v: Tensor):
        acc = torch.float64 if q.dtype == torch.float64 else torch.float32
        b, n, h, d = q.shape
        acc_o = [torch.zeros(b, len(p.heads), n, d, dtype=acc, device=q.device) for p in self.parts]
        acc_l = [torch.full((b, len(p.heads), n), float("-inf"), dtype=acc, device=q.device) for p in self.parts]

        def visit(src: int, held: pairwise.Rows, kv: list[Tensor]) -> None:
            for i, part in enumerate(self.parts):
                heads = part.heads.to(q.device)
                for rows, keys, mask, ok in self._tiles(part, src, q.device):
                    o, lse = self.forward_kernel(_take(q, rows, heads), held.take(kv[0], keys, heads),
                                                 held.take(kv[1], keys, heads), self.scale, False, mask,
                                                 **self._drop(src, b, heads, rows, keys, acc))
                    lse_ops.merge_(acc_o[i][:, :, rows[0]:rows[-1] + 1], acc_l[i][:, :, rows[0]:rows[-1] + 1],
                                   o.mul_(ok.unsqueeze(-1)), lse.masked_fill(~ok, float("-inf")), consume=True)
                    del o, lse

        self._sources(k, v, visit)
        heads = [part.heads.to(q.device) for part in self.parts]
        out = torch.zeros(b, h, n, d, dtype=acc, device=q.device)
        if self.combine == "lse":  # every part's heads are its slots of dimension 1
            total = torch.full((b, h, n), float("-inf"), dtype=acc, device=q.device)
            if self.parts:
                out, total = lse_ops.combine(acc_o, acc_l, index=heads, rows=h)
            return out.transpose(1, 2).to(q.dtype), (total.transpose(1, 2),)
        for part, idx, o in zip(self.parts, heads, acc_o):
            out[:, idx] += o * part.weight
        return out.transpose(1, 2).to(q.dtype), tuple(o.to(q.dtype) for o in acc_o) + tuple(acc_l)

    def backward(self, dout: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, saved):
        acc = torch.float64 if q.dtype == torch.float64 else torch.float32
        parts = self.parts
        dout = dout.to(q.dtype)
        dq = torch.zeros(q.shape, dtype=acc, device=q.device)

        def operands(i: int, part: Part, rows: Tensor, heads: Tensor):
            """(dO, O, lse) of the part's rows ``rows`` as the kernel takes them."""
            if self.combine == "lse":
                return (_take(dout, rows, heads), _take(out, rows, heads),
                        saved[0].index_select(1, rows).index_select(2, heads).transpose(1, 2))
            o, lse = saved[i], saved[len(parts) + i]
            return (_take(dout, rows, heads) * part.weight, o.index_select(2, rows),
                    lse.index_select(2, rows))

        def grads_for(src: int, held: pairwise.Rows, kv: list[Tensor], dkv: list[Tensor]) -> None:
            """Add this rank's gradients: dq, and (dk, dv) of the source's held rows."""
            for i, part in enumerate(parts):
                heads = part.heads.to(q.device)
                for rows, keys, mask, ok in self._tiles(part, src, q.device):
                    do, o, lse = operands(i, part, rows, heads)
                    do = do * ok.unsqueeze(-1)  # rows without keys here: no gradient
                    lse = lse.masked_fill(~ok, float("inf")).contiguous()
                    gq, gk, gv = self.backward_kernel(do, _take(q, rows, heads), held.take(kv[0], keys, heads),
                                                      held.take(kv[1], keys, heads), o, lse, self.scale, False, mask,
                                                      **self._drop(src, q.shape[0], heads, rows, keys, acc))
                    _scatter_add_(dq, rows, heads, gq)
                    held.add_(dkv[0], keys, heads, gk)
                    held.add_(dkv[1], keys, heads, gv)
                    del gq, gk, gv

        b, L, H, d = k.shape
        dk = torch.zeros(k.shape, dtype=acc, device=q.device)
        dv = torch.zeros(v.shape, dtype=acc, device=q.device)
        own = pairwise.Rows.whole(L, H, k.device)
        grads_for(self.ring.pos, own, [k.view(b, L * H, d), v.view(b, L * H, d)], [dk.view(b, L * H, d), dv.view(b, L * H, d)])
        pairwise.run_backward(self.schedule(k), k, v, dk, dv, acc,
                              lambda src, held, kv, dkv: grads_for(src, held, kv, dkv))
        return dq.to(q.dtype), dk.to(q.dtype), dv.to(q.dtype)


def dist_rank(group) -> int:
    import torch.distributed as dist

    return dist.get_rank(group)


def dist_world(group) -> int:
    import torch.distributed as dist

    return dist.get_world_size(group)
