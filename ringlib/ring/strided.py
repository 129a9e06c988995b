"""Ring strategy for patterns with a strided plan: send only the rows remote queries need.

Each part family of ``pattern.plan(n, heads)`` (global row coordinates) is classified against
the chunks the ranks hold (``sharding.chunks``):

* **local**: every segment of the family lies inside one chunk. Each rank runs the segments
  inside its own chunks; nothing is communicated. (Dilated segments no longer than a shard
  and aligned to it, orderings inside such segments.)
* **spanning**: segments cover whole chunks, with the same residue lanes in every chunk
  (``chunk % rate == 0``). A chunk's share of the family is then itself a regular strided
  family (``chunk / rate`` rows per lane), so each rank packs exactly those key/value rows
  (for rate ``r``: ``1/r`` of its keys/values, per head only the residue it needs) into one
  contiguous buffer, and the buffer travels around a ring made of the ranks that share the
  segment. Dense attention is one family spanning all ranks: a classic ring.

Rings come in two kinds (``ringlib.ring.loop``): a **relay** passes whole payloads from rank
to rank (no causal mask, one spanning family: every rank needs every payload); a **direct**
ring sends, at step s, straight to the rank s ahead only the leading rows of each family its
queries read (under a causal mask: nothing to the ranks before, the first chunk only to a
zigzag rank after) and skips a family's rows that another family already brings from the
same rank (``_borrow``: the nested residues of dilated rates), so that no rank sends more
than the pattern needs (``ringlib.ring.traffic``).

Anything else (segments straddling a shard boundary, keys strided differently from queries
across shards, orderings across shards) returns ``None`` and goes to ``ring.masked``.

Per kernel call the partial ``(o, lse)`` merges into a float32 accumulator of the family
(``ringlib.lse``). At the end families combine as the plan says ("lse" or weighted "sum").
Backward recomputes call by call with the fused kernels' backward, fed the merged output
and log-sum-exp ("lse") or the family's own ("sum"); key/value gradients of remote rows
travel back around the ring (``loop.run_backward``), and each call's backward runs in
query x key tiles (``_tiles``) so that its kernel outputs stay a fraction of a shard.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import torch

from ringlib.backends import kernels
from ringlib.lse import merge_ as lse_merge_
from ringlib.backends.strided import gather_index, rows_view
from ringlib.plan import StridedParts
from ringlib.ring import comm, loop
from ringlib.ring.sharding import chunks, positions

Tensor = torch.Tensor
ALL = (0, None)  # a full row range


@dataclass(frozen=True)
class Family:
    """A part family as this rank holds it: ``view`` addresses its rows in the rank's local
    tensors (coordinates of the branch ordering)."""

    branch: int
    view: StridedParts
    weight: float


@dataclass(frozen=True, eq=False)
class Call:
    """One kernel call: lanes ``lanes`` and query rows ``q_rows`` of a family against key rows
    ``k_rows`` (of the local tensors at step 0, of the received buffer on ring steps)."""

    family: int
    lanes: tuple[int, int | None] = ALL
    q_rows: tuple[int, int | None] = ALL
    k_rows: tuple[int, int | None] = ALL
    causal: bool = False  # top-left causal cut
    mask: Tensor | None = None  # boolean (q rows, k rows) "may attend", else None


@dataclass(frozen=True)
class RingPlan:
    ranks: tuple[int, ...]
    families: tuple[int, ...]  # spanning families whose rows the buffer carries, in order
    steps: tuple[tuple[Call, ...], ...]  # calls at ring step s = index + 1
    # causal: a direct ring (``loop.run_forward_direct``); per step, per family, how many
    # leading rows of the family this rank sends to the rank s ahead / receives from the one
    # s behind (0: none); None: a relay ring, whole payloads
    send_rows: tuple[tuple[int, ...], ...] | None = None
    recv_rows: tuple[tuple[int, ...], ...] | None = None
    # per step: calls of families of other rings (or of this one) whose rows from this step's
    # source are all inside a family's rows this ring brings (``_borrow``)
    lent: tuple[tuple["Borrowed", ...], ...] = ()


@dataclass(frozen=True, eq=False)
class Borrowed:
    """Calls of ``family`` against a source's rows that arrive inside ``lender``'s rows of
    the same source: ``index`` their positions in the lender's packed buffer (flattened
    rows x heads), None where the lender's buffer is the whole shard (a strided view)."""

    lender: int
    family: int
    calls: tuple[Call, ...]
    rows: int  # leading rows of ``family`` the calls read
    index: Tensor | None


@dataclass(frozen=True, eq=False)
class Schedule:
    combine: str
    families: tuple[Family, ...]
    orders: tuple[tuple[Tensor, Tensor] | None, ...]  # per branch: local (index, inverse) or None
    local: tuple[Call, ...]
    rings: tuple[RingPlan, ...]


def _last_row(start: int, lanes: int, count: int, rate: int) -> int:
    return start + lanes - 1 + (count - 1) * rate


def _local_calls(index: int, fam: Family, order, causal: bool) -> list[Call]:
    """Calls of a family whose queries and keys are all local. Under causal masking, lanes
    are split where the mask differs from lane to lane (an ordering, or keys strided
    differently from queries), as in ``backends.strided``."""
    view = fam.view
    same = (view.q_start, view.q_count, view.q_rate) == (view.k_start, view.k_count, view.k_rate)
    if not causal:
        return [Call(index)]
    if order is None and same:
        return [Call(index, causal=True)]
    out = []
    t = torch.arange(view.q_count)
    u = torch.arange(view.k_count)
    for d in range(view.lanes):
        q_rows = view.q_start + d + t * view.q_rate
        k_rows = view.k_start + d + u * view.k_rate
        if order is not None:
            q_rows, k_rows = order[0][q_rows], order[0][k_rows]
        out.append(Call(index, lanes=(d, d + 1), mask=k_rows.unsqueeze(0) <= q_rows.unsqueeze(1)))
    return out


def _ring_calls(index: int, view: StridedParts, me: int, source: int, causal: bool, layout: str) -> list[Call]:
    """Calls of a spanning family against the rows received from ``source``."""
    if not causal or (layout == "contiguous" and source < me):
        return [Call(index)]
    if layout == "contiguous":
        return []  # keys from later positions: nothing visible
    half = view.q_count // 2  # zigzag: first half of the rows is chunk r, second chunk 2P-1-r
    if source < me:  # their first chunk precedes both of mine, their second follows both
        return [Call(index, k_rows=(0, half))]
    return [Call(index, q_rows=(half, None))]  # only my second chunk follows all of theirs


@functools.lru_cache(maxsize=128)
def build(pattern, n: int, heads: int, ordering, world: int, rank: int, layout: str,
          causal: bool) -> Schedule | None:
    """This rank's schedule, or None where a family fits neither kind (see module doc)."""
    local_len = n // world
    mine = chunks(layout, world, rank, local_len)
    c = mine[0][1]  # chunk length
    plan = pattern.plan(n, heads)
    cpu = torch.device("cpu")
    families: list[Family] = []
    orders: list = []
    local: list[Call] = []
    spanning: dict[tuple[int, ...], list[int]] = {}
    spanning_parts = 0  # of the whole plan (every rank counts the same)
    for bi, branch in enumerate(plan.branches):
        index = gather_index(ordering, branch, n, cpu) if ordering is not None else None
        order = None
        if index is not None:
            rows = torch.arange(n)
            if not torch.equal(index[0] // c, rows // c):
                return None  # the ordering moves rows across chunks
            pos = positions(layout, world, rank, local_len)
            local_of = torch.full((n,), -1, dtype=torch.long)
            local_of[pos] = torch.arange(local_len)
            forward = local_of[index[0][pos]]
            inverse = torch.empty_like(forward)
            inverse[forward] = torch.arange(local_len)
            order = (forward, inverse)
        orders.append(order)
        for part in branch.parts:
            s = torch.arange(part.segments) * part.segment_stride
            lo = min(part.q_start, part.k_start) + s
            hi = max(_last_row(part.q_start, part.lanes, part.q_count, part.q_rate),
                     _last_row(part.k_start, part.lanes, part.k_count, part.k_rate)) + s
            if torch.equal(lo // c, hi // c):  # local family
                for slot, (start, _) in enumerate(mine):
                    inside = torch.nonzero(lo // c == start // c).flatten()
                    if len(inside) == 0:
                        continue
                    s0, count = int(inside[0]), len(inside)
                    shift = s0 * part.segment_stride - start + slot * c
                    view = dataclasses.replace(part, segments=count, q_start=part.q_start + shift,
                                               k_start=part.k_start + shift)
                    families.append(Family(bi, view, part.weight))
                    local += _local_calls(len(families) - 1, families[-1], order, causal)
                continue
            ranks = _spanning_ranks(part, c, world, layout, rank)
            if ranks is None or order is not None:
                return None
            spanning_parts += 1
            if not ranks:
                continue  # no segment of this family touches this rank
            r = part.q_rate
            view = dataclasses.replace(part, segments=1, segment_stride=local_len, q_start=part.q_start % c,
                                       q_count=local_len // r, k_start=part.q_start % c, k_count=local_len // r)
            families.append(Family(bi, view, part.weight))
            local.append(Call(len(families) - 1, causal=causal))
            spanning.setdefault(ranks, []).append(len(families) - 1)
    rings = [RingPlan(ranks, tuple(spanning[ranks]), ()) for ranks in sorted(spanning)]
    rings = _borrow(rings, families, rank, local_len, heads, causal, layout, direct=causal or spanning_parts > 1)
    return Schedule(plan.combine, tuple(families), tuple(orders), tuple(local), tuple(rings))


def _borrow(rings: list[RingPlan], families: list[Family], rank: int, local_len: int, heads: int, causal: bool,
            layout: str, direct: bool) -> list[RingPlan]:
    """Steps of every ring, and no (row, head) sent twice to a rank.

    A family's rows from a source are not sent where another family (earlier in one order
    every rank shares: larger families first, then by ring and place) already brings a superset
    of them from that source to this rank: its calls run on that family's buffer
    (``Borrowed``), and their key/value gradients travel back in its gradient carrier. (Dilated
    patterns: the residue of rate 4 inside that of rate 2 inside the whole shard.) A ring
    can only skip where rings are ``direct`` (every ring of a plan with several spanning
    families, or under a causal mask: every rank decides alike): per step, only the leading
    rows of each family its receiver reads (``loop.run_forward_direct``)."""
    views = {f: families[f].view for r in rings for f in r.families}
    # larger families first (a superset precedes its subsets); every rank orders alike
    order = {f: (-_rows(families[f].view), r.ranks, i) for r in rings for i, f in enumerate(r.families)}
    ids = torch.arange(local_len * heads).view(1, local_len, heads, 1)

    def calls(f: int, receiver: int, source: int) -> list[Call]:
        return _ring_calls(f, views[f], receiver, source, causal, layout)

    def held(f: int, receiver: int, source: int) -> Tensor:
        """Flat (row, head) ids of ``source``'s shard that ``f``'s calls at ``receiver`` read,
        in the order of the family's packed rows."""
        lead = _leading_rows(calls(f, receiver, source), f, views[f])
        return rows_view(ids, views[f], keys=True)[:, :, :, :, :lead].flatten()

    def lender(f: int, receiver: int, source: int) -> int | None:
        need = held(f, receiver, source)
        if len(need) == 0:
            return None
        for g in sorted(order, key=order.get):
            r = next(r for r in rings if g in r.families)
            if order[g] >= order[f]:
                return None
            if receiver in r.ranks and source in r.ranks:
                have = torch.zeros(local_len * heads, dtype=torch.bool)
                have[held(g, receiver, source)] = True
                if bool(have[need].all()):
                    return g
        return None

    whole = torch.empty(1, local_len, heads, 1)
    lent = [[[] for _ in range(len(r.ranks) - 1)] for r in rings]  # per ring, per step
    plans = []
    for ring in rings:
        m, pos = len(ring.ranks), ring.ranks.index(rank)
        source = [ring.ranks[(pos - s) % m] for s in range(1, m)]
        dest = [ring.ranks[(pos + s) % m] for s in range(1, m)]
        steps = [[c for f in ring.families for c in calls(f, rank, source[s])] for s in range(m - 1)]
        recv = [[_leading_rows(steps[s], f, views[f]) for f in ring.families] for s in range(m - 1)]
        send = [[_leading_rows(calls(f, dest[s], rank), f, views[f]) for f in ring.families] for s in range(m - 1)]
        for i, f in enumerate(ring.families if direct else ()):
            for s in range(m - 1):
                if send[s][i] and lender(f, dest[s], rank) is not None:
                    send[s][i] = 0
                g = lender(f, rank, source[s]) if recv[s][i] else None
                if g is None:
                    continue
                at = next(j for j, r in enumerate(rings) if g in r.families)
                step = (rings[at].ranks.index(rank) - rings[at].ranks.index(source[s])) % len(rings[at].ranks)
                index = None
                if not (_covers(whole, views[g], keys=True) and
                        _leading_rows(calls(g, rank, source[s]), g, views[g]) == views[g].k_count):
                    slot = torch.full((local_len * heads,), -1, dtype=torch.long)  # f's rows in g's packed rows
                    have = held(g, rank, source[s])
                    slot[have] = torch.arange(len(have))
                    index = slot[held(f, rank, source[s])]
                lent[at][step - 1].append(Borrowed(g, f, tuple(c for c in steps[s] if c.family == f), recv[s][i],
                                                   index))
                recv[s][i] = 0
        steps = [[c for c in steps[s] if recv[s][ring.families.index(c.family)]] for s in range(m - 1)]
        plans.append(dataclasses.replace(
            ring, steps=tuple(map(tuple, steps)), send_rows=tuple(map(tuple, send)) if direct else None,
            recv_rows=tuple(map(tuple, recv)) if direct else None))
    return [dataclasses.replace(p, lent=tuple(map(tuple, steps))) for p, steps in zip(plans, lent)]


def _rows(view: StridedParts) -> int:
    return view.segments * view.lanes * view.heads * view.k_count


def _leading_rows(calls, family: int, view: StridedParts) -> int:
    """Rows ``[0, r)`` of a family's keys that ``calls`` read (their key ranges start at 0)."""
    ends = [view.k_count if c.k_rows[1] is None else c.k_rows[1] for c in calls if c.family == family]
    if any(c.k_rows[0] for c in calls if c.family == family):
        return view.k_count
    return max(ends, default=0)


def _spanning_ranks(part: StridedParts, c: int, world: int, layout: str, rank: int):
    """Ranks sharing this rank's segment of a family whose segments cover whole chunks with
    the same lanes in each (empty tuple: none of its segments touches this rank), or None
    when the family is not of that kind."""
    r = part.q_rate
    same = (part.q_start, part.q_count, r) == (part.k_start, part.k_count, part.k_rate)
    c0 = part.q_start % c
    if not same or c % r or c0 + part.lanes > r or (part.q_count * r) % c:
        return None
    if part.segments > 1 and part.segment_stride % c:
        return None
    m = part.q_count * r // c  # chunks per segment
    first = (part.q_start - c0) // c + torch.arange(part.segments) * (part.segment_stride // c)
    if layout == "zigzag":
        if m != 2 * world or part.segments != 1:
            return None
        return tuple(range(world))
    hit = torch.nonzero((first <= rank) & (rank < first + m)).flatten()
    if len(hit) == 0:
        return ()
    f0 = int(first[hit[0]])
    return tuple(range(f0, f0 + m))


# ---------------------------------------------------------------------------------------------
# execution


def _sel(x: Tensor, call: Call, rows: tuple[int, int | None]) -> Tensor:
    """Lanes and rows of a 6-D family view ``(b, segments, lanes, heads, rows, ...)``."""
    return x[:, :, call.lanes[0]:call.lanes[1], :, rows[0]:rows[1]]


def _flat(x: Tensor) -> Tensor:
    """``(b, S, R, J, T, d)`` -> ``(b*S*R, J, T, d)`` for the kernels: a view where the strides
    allow (dense-like families: no copy), else a copy."""
    return x.reshape(-1, *x.shape[-3:])


def _covers(x: Tensor, view: StridedParts, keys: bool) -> bool:
    """Whether the family's rows are all of ``x`` (its view is then a permutation of ``x``)."""
    return rows_view(x, view, keys).numel() == x.numel()


BACKWARD_TILES = 4
"""The backward splits each call's query rows and key rows into this many tiles (of at
least ``MIN_TILE`` rows): the kernel's dQ/dK/dV then take a fraction of a shard each,
instead of three shards on top of the gradient accumulators. The forward splits the query
rows alike: its kernel output is a quarter shard before it merges into the accumulator."""
MIN_TILE = 128


def _tiles(call: Call, nq: int, nk: int, split_keys: bool = True):
    """``call`` as query x key tiles with the same result (tiles without a visible key are
    skipped; a causal call is cut on equal tiles: diagonal causal, below full, above none).
    ``split_keys=False``: query tiles only, unless the call is causal (the forward: its
    kernel's output is query-sized, and each tile is one more LSE merge)."""
    q0, q1 = call.q_rows[0], nq if call.q_rows[1] is None else call.q_rows[1]
    k0, k1 = call.k_rows[0], nk if call.k_rows[1] is None else call.k_rows[1]
    tq = max(MIN_TILE, -(-(q1 - q0) // BACKWARD_TILES))
    tk = max(MIN_TILE, -(-(k1 - k0) // BACKWARD_TILES)) if split_keys or call.causal else max(1, k1 - k0)
    if (q1 - q0 <= tq and k1 - k0 <= tk) or (call.causal and (q1 - q0 != k1 - k0)):
        yield call
        return
    if call.causal:
        tk = tq
    for a in range(q0, q1, tq):
        for c in range(k0, k1, tk):
            b, e = min(a + tq, q1), min(c + tk, k1)
            causal = False
            if call.causal:
                if c > a:
                    continue
                causal = c == a
            mask = None if call.mask is None else call.mask[a - q0:b - q0, c - k0:e - k0]
            if mask is not None and not bool(mask.any()):
                continue
            yield dataclasses.replace(call, q_rows=(a, b), k_rows=(c, e), causal=causal, mask=mask)


def _fix_empty_rows(mask: Tensor | None):
    """Rows of a mask with no visible key: give them every key (so the kernel is defined)
    and report them, to zero their results."""
    if mask is None:
        return None, None
    ok = mask.any(-1)
    if bool(ok.all()):
        return mask, None
    return mask | ~ok.unsqueeze(-1), ok


class Strategy:
    def __init__(self, schedule: Schedule, group, scale: float, math: bool) -> None:
        self.s = schedule
        self.group = group
        self.scale = scale
        self.forward_kernel = kernels.math_forward if math else kernels.forward
        self.backward_kernel = kernels.math_backward if math else kernels.backward

    # -- helpers ---------------------------------------------------------------------------

    def _branch_inputs(self, tensors, device):
        """Per branch: the local tensors in the branch's row order."""
        out = []
        for order in self.s.orders:
            if order is None:
                out.append(tensors)
            else:
                idx = order[0].to(device)
                out.append(tuple(t.index_select(1, idx) for t in tensors))
        return out

    def _payload(self, ring: RingPlan, k: Tensor, v: Tensor) -> list[Tensor]:
        """The key/value rows of this rank that the ring carries, one contiguous "carrier" per
        family and tensor: ``k`` / ``v`` themselves (no copy) where the family covers all
        rows, else a packed copy of the family's rows."""
        out = []
        for f in ring.families:
            view = self.s.families[f].view
            out += [x if _covers(x, view, keys=True) else rows_view(x, view, keys=True).contiguous() for x in (k, v)]
        return out

    def _unpack(self, ring: RingPlan, bufs: list[Tensor], like: Tensor) -> dict[int, tuple[Tensor, Tensor]]:
        """Carriers (as ``_payload`` lays them out) -> per family, the (keys, values) views."""
        out = {}
        for i, f in enumerate(ring.families):
            view = self.s.families[f].view
            kk, vv = bufs[2 * i], bufs[2 * i + 1]
            if _covers(like, view, keys=True):
                kk, vv = rows_view(kk, view, keys=True), rows_view(vv, view, keys=True)
            out[f] = (kk, vv)
        return out

    def _rows_out(self, plan: RingPlan, k: Tensor, v: Tensor, rows: tuple[int, ...]) -> list[Tensor] | None:
        """A direct ring's send: the leading ``rows`` of each family (``k``/``v`` themselves
        where that is all of them), or None when nothing is needed."""
        out = []
        for f, r in zip(plan.families, rows):
            view = self.s.families[f].view
            if r == view.k_count and _covers(k, view, keys=True):
                out += [k, v]
            elif r:
                out += [rows_view(x, view, keys=True)[:, :, :, :, :r].contiguous() for x in (k, v)]
        return out or None

    def _rows_in(self, plan: RingPlan, k: Tensor, rows: tuple[int, ...]) -> list[Tensor] | None:
        """Buffers for what ``_rows_out`` of the sending rank gives."""
        out = []
        for f, r in zip(plan.families, rows):
            view = self.s.families[f].view
            if r == view.k_count and _covers(k, view, keys=True):
                out += [torch.empty_like(k), torch.empty_like(k)]
            elif r:
                shape = (*rows_view(k, view, keys=True).shape[:4], r, k.shape[-1])
                out += [k.new_empty(shape), k.new_empty(shape)]
        return out or None

    def _unpack_rows(self, plan: RingPlan, bufs: list[Tensor], rows: tuple[int, ...]) -> dict:
        """Buffers laid out as ``_rows_out`` -> per family, (keys, values) as 6-D family views."""
        out, i = {}, 0
        for f, r in zip(plan.families, rows):
            if not r:
                continue
            kk, vv = bufs[i], bufs[i + 1]
            i += 2
            if kk.dim() == 4:  # whole tensors
                kk, vv = (rows_view(t, self.s.families[f].view, keys=True) for t in (kk, vv))
            out[f] = (kk, vv)
        return out

    def _raw(self, plan: RingPlan, bufs: list[Tensor], step: int, family: int) -> tuple[Tensor, Tensor]:
        """A family's (keys, values) buffers as received at ``step`` (``_payload`` layout for a
        relay ring, ``_rows_out`` for a direct one)."""
        i = plan.families.index(family)
        if plan.recv_rows is not None:  # only the families with rows at this step
            i = sum(1 for r in plan.recv_rows[step - 1][:i] if r)
        return bufs[2 * i], bufs[2 * i + 1]

    def _borrowed(self, b: Borrowed, raw: Tensor) -> Tensor:
        """The borrower's 6-D key (value) view from the lender's buffer ``raw``."""
        view = self.s.families[b.family].view
        if b.index is None:  # the lender's buffer is a whole shard
            return rows_view(raw, view, keys=True)[:, :, :, :, :b.rows]
        n, d = raw.shape[0], raw.shape[-1]
        picked = raw.reshape(n, -1, d).index_select(1, b.index.to(raw.device))
        return picked.view(n, view.segments, view.lanes, view.heads, b.rows, d)

    def _attend(self, call: Call, q6: Tensor, k6: Tensor, v6: Tensor):
        mask, ok = _fix_empty_rows(call.mask if call.mask is None else call.mask.to(q6.device))
        o, lse = self.forward_kernel(_flat(q6), _flat(k6), _flat(v6), self.scale, call.causal, mask)
        o, lse = o.view(q6.shape), lse.view(q6.shape[:-1])
        if ok is not None:
            o = o * ok.unsqueeze(-1)
            lse = lse.masked_fill(~ok, float("-inf"))
        return o, lse

    def saved_specs(self, shape: tuple[int, ...], dtype: torch.dtype) -> list[tuple[tuple[int, ...], torch.dtype]]:
        """Shapes and dtypes of what ``forward`` saves for the backward (for a compiler)."""
        acc = torch.float64 if dtype == torch.float64 else torch.float32
        if self.s.combine == "lse":
            return [(tuple(shape[:-1]), acc)]
        like = torch.empty(shape, dtype=dtype, device="meta")
        views = [tuple(rows_view(like, f.view, keys=False).shape) for f in self.s.families]
        return [(v, dtype) for v in views] + [(v[:-1], acc) for v in views]

    # -- forward ---------------------------------------------------------------------------

    def forward(self, q: Tensor, k: Tensor, v: Tensor):
        acc = torch.float64 if q.dtype == torch.float64 else torch.float32
        fams = self.s.families
        inputs = self._branch_inputs((q, k, v), q.device)
        # one family over all rows (dense): its accumulators are views of the output and the
        # log-sum-exp, so no separate output buffer is needed at the end
        whole = self.s.combine == "lse" and len(fams) == 1 and self.s.orders[fams[0].branch] is None \
            and _covers(q, fams[0].view, keys=False)
        if whole:
            out_acc = torch.zeros(q.shape, dtype=acc, device=q.device)
            lse_acc = torch.full(q.shape[:-1], float("-inf"), dtype=acc, device=q.device)
            acc_o = [rows_view(out_acc, fams[0].view, keys=False)]
            acc_l = [rows_view(lse_acc, fams[0].view, keys=False)]
        else:
            acc_o = [torch.zeros(rows_view(q, f.view, keys=False).shape, dtype=acc, device=q.device) for f in fams]
            acc_l = [torch.full(a.shape[:-1], float("-inf"), dtype=acc, device=q.device) for a in acc_o]

        def merge(call: Call, o: Tensor, lse: Tensor) -> None:
            lse_merge_(_sel(acc_o[call.family], call, call.q_rows), _sel(acc_l[call.family], call, call.q_rows), o, lse,
                       consume=True)

        def queries(call: Call) -> Tensor:
            qb = inputs[fams[call.family].branch][0]
            return _sel(rows_view(qb, fams[call.family].view, keys=False), call, call.q_rows)

        def lent(plan: RingPlan, step: int, bufs: list[Tensor]) -> None:
            """Calls of other families on rows that arrived in this step's buffers."""
            for b in plan.lent[step - 1]:
                kf, vf = (self._borrowed(b, t) for t in self._raw(plan, bufs, step, b.lender))
                for call in b.calls:
                    attend(call, kf, vf)

        def attend(call: Call, kf: Tensor, vf: Tensor) -> None:
            """The call against the family's keys/values ``kf``/``vf`` (all their rows), in tiles."""
            for tile in _tiles(call, fams[call.family].view.q_count, kf.shape[4], split_keys=False):
                merge(tile, *self._attend(tile, queries(tile), _sel(kf, tile, tile.k_rows),
                                          _sel(vf, tile, tile.k_rows)))

        rings = [comm.Ring(r.ranks, self.group) for r in self.s.rings]
        # a ring's first transfer is posted when the ring before it is on its last step (the
        # first ring's before the local work): one receive buffer of a later ring at a time
        pending = [None] * len(rings)

        def start(i: int) -> None:
            if i < len(rings) and pending[i] is None and self.s.rings[i].send_rows is None:
                pending[i] = rings[i].post_all(self._payload(self.s.rings[i], k, v), "keys/values")

        start(0)
        for call in self.s.local:
            _, kb, vb = inputs[fams[call.family].branch]
            view = fams[call.family].view
            attend(call, rows_view(kb, view, keys=True), rows_view(vb, view, keys=True))
        for i, (ring, plan) in enumerate(zip(rings, self.s.rings)):
            start(i)

            def compute(step: int, buf: Tensor, plan=plan, ring=ring, i=i) -> None:
                if step + 1 == ring.size:
                    start(i + 1)
                kv = self._unpack(plan, buf, k)
                for call in plan.steps[step - 1]:
                    attend(call, *kv[call.family])
                lent(plan, step, buf)
            if plan.send_rows is not None:  # direct
                def compute_rows(step: int, bufs: list[Tensor], plan=plan) -> None:
                    kv = self._unpack_rows(plan, bufs, plan.recv_rows[step - 1])
                    for call in plan.steps[step - 1]:
                        attend(call, *kv[call.family])
                    lent(plan, step, bufs)

                loop.run_forward_direct(ring, lambda s, plan=plan: self._rows_out(plan, k, v, plan.send_rows[s - 1]),
                                        lambda s, plan=plan: self._rows_in(plan, k, plan.recv_rows[s - 1]),
                                        compute_rows)
                continue
            first, pending[i] = pending[i], False
            loop.run_forward(ring, first, compute)
        pending = first = None
        if whole:  # merging into an empty output would copy it exactly
            return out_acc.to(q.dtype), (lse_acc,)
        out, total_lse = self._combine(q, acc_o, acc_l, acc)
        if self.s.combine == "lse":
            return out, (total_lse,)
        return out, tuple(o.to(q.dtype) for o in acc_o) + tuple(acc_l)

    def _combine(self, q: Tensor, acc_o, acc_l, acc):
        """Families -> output rows: LSE merge or weighted sum, branch by branch."""
        b, n, h, d = q.shape
        out = torch.zeros(b, n, h, d, dtype=acc, device=q.device)
        total = torch.full((b, n, h), float("-inf"), dtype=acc, device=q.device)
        for bi, order in enumerate(self.s.orders):
            members = [i for i, f in enumerate(self.s.families) if f.branch == bi]
            if not members:
                continue
            bo, bl = (out, total) if order is None else (torch.zeros_like(out), torch.full_like(total, float("-inf")))
            for i in members:
                view = self.s.families[i].view
                if self.s.combine == "lse":
                    lse_merge_(rows_view(bo, view, keys=False), rows_view(bl, view, keys=False), acc_o[i], acc_l[i],
                               consume=True)
                else:
                    rows_view(bo, view, keys=False).add_(acc_o[i] * self.s.families[i].weight)
            if order is not None:
                inv = order[1].to(q.device)
                bo, bl = bo.index_select(1, inv), bl.index_select(1, inv)
                if self.s.combine == "lse":
                    lse_merge_(out, total, bo, bl, consume=True)
                else:
                    out.add_(bo)
        return out.to(q.dtype), total

    # -- backward --------------------------------------------------------------------------

    def backward(self, dout: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, saved):
        acc = torch.float64 if q.dtype == torch.float64 else torch.float32
        fams = self.s.families
        dout = dout.to(q.dtype)
        if self.s.combine == "lse":
            inputs = self._branch_inputs((q, k, v, dout, out, saved[0]), q.device)
        else:
            inputs = self._branch_inputs((q, k, v, dout), q.device)
            fam_o, fam_l = saved[:len(fams)], saved[len(fams):]
        shared = [torch.zeros(q.shape, dtype=acc, device=q.device) for _ in range(3)]
        grads = [shared if order is None else [torch.zeros_like(g) for g in shared] for order in self.s.orders]

        def prepare(call: Call):
            """(do, q, o, lse) of the call's query rows."""
            f = fams[call.family]
            tensors = inputs[f.branch]
            q6 = _sel(rows_view(tensors[0], f.view, keys=False), call, call.q_rows)
            do6 = _sel(rows_view(tensors[3], f.view, keys=False), call, call.q_rows)
            if self.s.combine == "lse":
                o6 = _sel(rows_view(tensors[4], f.view, keys=False), call, call.q_rows)
                l6 = _sel(rows_view(tensors[5], f.view, keys=False), call, call.q_rows)
            else:
                o6 = _sel(fam_o[call.family], call, call.q_rows)
                l6 = _sel(fam_l[call.family], call, call.q_rows)
                do6 = do6 * f.weight
            return do6, q6, o6, l6

        def grad_kernel(call: Call, k6: Tensor, v6: Tensor):
            do6, q6, o6, l6 = prepare(call)
            mask, ok = _fix_empty_rows(call.mask if call.mask is None else call.mask.to(q.device))
            if ok is not None:  # rows without keys in this call: no gradient flows through them
                do6 = do6 * ok.unsqueeze(-1)
                l6 = l6.masked_fill(~ok, float("inf"))
            # the CPU kernels read strided operands in place (bit for bit the same result);
            # elsewhere they get contiguous copies, as before
            dense = (lambda t: t) if q.device.type == "cpu" else (lambda t: t.contiguous())
            q4 = dense(_flat(q6))
            dq, dk, dv = self.backward_kernel(
                dense(_flat(do6)), q4, dense(_flat(k6)), dense(_flat(v6)),
                dense(_flat(o6).to(q.dtype)), l6.reshape(q4.shape[:-1]).contiguous(),
                self.scale, call.causal, mask)
            g = grads[fams[call.family].branch][0]
            _sel(rows_view(g, fams[call.family].view, keys=False), call, call.q_rows).add_(dq.view(q6.shape))
            del dq
            return dk.view(k6.shape), dv.view(v6.shape)

        rings = [comm.Ring(r.ranks, self.group) for r in self.s.rings]
        pending = [ring.post_all(self._payload(r, k, v), "keys/values") if r.send_rows is None else None
                   for ring, r in zip(rings, self.s.rings)]
        for call in self.s.local:
            f = fams[call.family]
            _, kb, vb = inputs[f.branch][:3]
            kf, vf = rows_view(kb, f.view, keys=True), rows_view(vb, f.view, keys=True)
            gk, gv = (rows_view(g, f.view, keys=True) for g in grads[f.branch][1:])
            for tile in _tiles(call, f.view.q_count, kf.shape[4]):
                dk, dv = grad_kernel(tile, _sel(kf, tile, tile.k_rows), _sel(vf, tile, tile.k_rows))
                _sel(gk, tile, tile.k_rows).add_(dk)
                _sel(gv, tile, tile.k_rows).add_(dv)
                del dk, dv
        def accumulate(call: Call, kf: Tensor, vf: Tensor, gk: Tensor, gv: Tensor) -> None:
            """The call's dq, and its dk/dv into ``gk``/``gv`` (views of the family's keys)."""
            for tile in _tiles(call, fams[call.family].view.q_count, kf.shape[4]):
                dk, dv = grad_kernel(tile, _sel(kf, tile, tile.k_rows), _sel(vf, tile, tile.k_rows))
                _sel(gk, tile, tile.k_rows).add_(dk)
                _sel(gv, tile, tile.k_rows).add_(dv)
                del dk, dv

        for ring, plan, first in zip(rings, self.s.rings, pending):
            direct = plan.send_rows is not None

            def contribute(step: int, bufs: list[Tensor], grad: list[Tensor], plan=plan, direct=direct) -> None:
                if direct:
                    kv = self._unpack_rows(plan, bufs, plan.recv_rows[step - 1])
                    carriers = self._unpack_rows(plan, grad, plan.recv_rows[step - 1])
                else:
                    kv = self._unpack(plan, bufs, k)
                    carriers = self._unpack(plan, grad, k)
                for call in plan.steps[step - 1]:
                    accumulate(call, *kv[call.family], *carriers[call.family])
                for b in plan.lent[step - 1]:  # other families' calls on rows in these buffers
                    kf, vf = (self._borrowed(b, t) for t in self._raw(plan, bufs, step, b.lender))
                    gkr, gvr = self._raw(plan, grad, step, b.lender)
                    if b.index is None:
                        gk, gv = self._borrowed(b, gkr), self._borrowed(b, gvr)
                    else:
                        gk, gv = torch.zeros(kf.shape, dtype=acc, device=q.device), torch.zeros_like(vf, dtype=acc)
                    for call in b.calls:
                        accumulate(call, kf, vf, gk, gv)
                    if b.index is not None:  # into the lender's carrier, back to the source with it
                        for carrier, g in ((gkr, gk), (gvr, gv)):
                            carrier.view(carrier.shape[0], -1, carrier.shape[-1]).index_add_(
                                1, b.index.to(q.device), g.reshape(g.shape[0], -1, g.shape[-1]))

            def absorb(home: dict) -> None:
                """Gradients of this rank's rows, back from the ranks that used them."""
                for f, (dk, dv) in home.items():
                    gk, gv = (rows_view(g, fams[f].view, keys=True) for g in grads[fams[f].branch][1:])
                    gk[:, :, :, :, :dk.shape[4]].add_(dk)
                    gv[:, :, :, :, :dv.shape[4]].add_(dv)

            zeros = functools.partial(loop.zeros_like_payload, dtype=acc)
            if direct:
                loop.run_backward_direct(
                    ring, lambda s, plan=plan: self._rows_out(plan, k, v, plan.send_rows[s - 1]),
                    lambda s, plan=plan: self._rows_in(plan, k, plan.recv_rows[s - 1]), contribute, zeros,
                    lambda s, back, plan=plan: absorb(self._unpack_rows(plan, back, plan.send_rows[s - 1])))
            else:
                absorb(self._unpack(plan, loop.run_backward(ring, first, contribute, zeros), k))
        pending = first = None
        for order, branch_grads in zip(self.s.orders, grads):
            if order is not None:  # back to the rank's row order
                inv = order[1].to(q.device)
                for t, g in zip(shared, branch_grads):
                    t.add_(g.index_select(1, inv))
        return tuple(g.to(q.dtype) for g in shared)
