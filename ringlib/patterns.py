"""Attention patterns: what each query may see, as a set of parts plus a combine rule.

Patterns are data: they say what is computed, never how (``ringlib.dispatch`` picks the
kernel, the backends read the pattern). A pattern answers two questions, each in its own
method:

* ``plan(n, heads)``: the strided part families the fast backends execute
  (``ringlib.plan``), computed once per (pattern, n, heads) and cached;
* ``reference_parts(n, heads, ordering)``: the same parts as explicit boolean masks, built
  straight from the definition for the float64 reference backend (the ground truth of
  every test). The two are written independently on purpose;
* ``label_parts(n, heads, ordering)``: the same parts as O(n) per-position labels
  (``LabelPart``), from which the ring's generic strategy computes each tile's mask on the
  fly: no ``n x n`` (or ``rows x n``) mask is built anywhere on that path.
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass
from typing import Iterator, Literal, Sequence

import torch

from ringlib.orderings import Ordering, permutation
from ringlib.plan import Branch, Plan, Segmentation, StridedParts


@dataclass(frozen=True)
class ReferencePart:
    """One part for the reference backend: ``allowed[i, j]`` says query position ``i`` may
    see key position ``j`` (original positions) for every head in ``heads``."""

    heads: tuple[int, ...]
    allowed: torch.Tensor
    weight: float = 1.0


@dataclass(frozen=True, eq=False)
class LabelPart:
    """One part as labels of original positions: query ``i`` may see key ``j`` iff both labels
    are set (``>= 0``) and they meet: equal labels (``table`` None: disjoint groups, e.g.
    segments x residues), else ``table[query_labels[i], key_labels[j]]`` (e.g. block layouts).
    O(n) per part where an explicit mask is O(n^2)."""

    heads: tuple[int, ...]
    query_labels: torch.Tensor  # (n,) long, -1: this query sees nothing in the part
    key_labels: torch.Tensor  # (n,) long, -1: no query sees this key in the part
    weight: float = 1.0
    table: torch.Tensor | None = None  # (query labels, key labels) bool

    def allowed(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """``(len(queries), len(keys))`` mask of the given original positions."""
        ql, kl = self.query_labels[queries], self.key_labels[keys]
        both = (ql >= 0).unsqueeze(1) & (kl >= 0).unsqueeze(0)
        if self.table is None:
            return both & (ql.unsqueeze(1) == kl.unsqueeze(0))
        return both & self.table[ql.clamp(min=0).unsqueeze(1), kl.clamp(min=0).unsqueeze(0)]

    def seen(self, queries: torch.Tensor, keys: torch.Tensor, causal: bool) -> torch.Tensor:
        """``(len(keys),)``: keys some of ``queries`` may attend (with ``causal``, some query at
        or after the key's position). O(len(queries) + len(keys) + labels)."""
        ql = self.query_labels[queries]
        valid = ql >= 0
        size = self.table.shape[0] if self.table is not None else \
            1 + max(int(self.query_labels.max()), int(self.key_labels.max()), 0)
        last = torch.full((size,), -1, dtype=torch.long).scatter_reduce_(0, ql[valid], queries[valid], "amax")
        if self.table is not None:  # latest query position reaching each key label, over the active pairs
            meet = self.table.nonzero()
            last = torch.full((self.table.shape[1],), -1, dtype=torch.long).scatter_reduce_(
                0, meet[:, 1], last[meet[:, 0]], "amax")
        kl = self.key_labels[keys]
        reach = torch.where(kl >= 0, last[kl.clamp(min=0)], -1)
        return reach >= keys if causal else reach >= 0

    def dense(self, n: int) -> torch.Tensor:
        """The explicit ``n x n`` mask (tests only)."""
        every = torch.arange(n)
        return self.allowed(every, every)


def segment_rows(n: int, segs: Sequence["Segmentation"], ordering: Ordering) -> tuple[torch.Tensor, torch.Tensor]:
    """Per original position: its segment's index and its row in the segment's (permuted)
    order; -1 for positions outside ``segs``. Vectorised per segmentation."""
    seg_of = torch.full((n,), -1, dtype=torch.long)
    row_of = torch.full((n,), -1, dtype=torch.long)
    first = 0
    for seg in segs:
        perm = permutation(ordering, seg.length, torch.device("cpu"))
        rows = torch.arange(seg.length)
        local = rows if perm is None else perm.cpu().long()
        index = seg.start + torch.arange(seg.count).unsqueeze(1) * seg.length + local.unsqueeze(0)
        seg_of[index] = first + torch.arange(seg.count).unsqueeze(1).expand_as(index)
        row_of[index] = rows.unsqueeze(0).expand_as(index)
        first += seg.count
    return seg_of, row_of


class Pattern:
    """Base class. Subclasses are frozen dataclasses (hashable: plans are cached by value)."""

    combine: Literal["lse", "sum"] = "lse"

    def __setstate__(self, state: dict) -> None:
        """A copy or an unpickled pattern is filed under its own key (``remember``): the
        registry holds patterns weakly, so the original it was copied from may be gone."""
        self.__dict__.update(state)
        remember(self)

    def validate(self, n: int, heads: int) -> None:
        """Raise ValueError where the pattern cannot apply to ``n`` tokens and ``heads``."""

    def plan(self, n: int, heads: int) -> Plan:
        return _cached_plan(self, n, heads)

    def _plan(self, n: int, heads: int) -> Plan:
        raise NotImplementedError

    def reference_parts(self, n: int, heads: int, ordering: Ordering) -> list[ReferencePart]:
        raise NotImplementedError

    def label_parts(self, n: int, heads: int, ordering: Ordering) -> list[LabelPart]:
        raise NotImplementedError


#: plan_key -> weak references to the patterns filed under it (all equal: a WeakSet would keep
#: one of two equal patterns only). A key stays valid while any of them lives: an equal pattern
#: built later, or a copy, may outlive the first.
_BY_KEY: "dict[str, list[weakref.ref[Pattern]]]" = {}


def _alive(key: str) -> "list[Pattern]":
    return [p for p in (ref() for ref in _BY_KEY.get(key, ())) if p is not None]


def _forget(key: str, ref: "weakref.ref[Pattern]") -> None:
    """Called when a filed pattern dies: the key goes with its last pattern (no growth from
    patterns made per call)."""
    refs = [r for r in _BY_KEY.get(key, ()) if r is not ref]
    if refs:
        _BY_KEY[key] = refs
    else:
        _BY_KEY.pop(key, None)


def remember(pattern: "Pattern") -> None:
    """Give a new pattern its ``plan_key`` and file it under that key: compiled graphs refer
    to patterns by this string, never by the object (a frozen pattern is not a value every
    torch.compile can rebuild). The key is the repr; a different live pattern with the same
    repr (two callables printed alike) gets a numbered one. Held weakly: patterns made per
    call (adaptive layouts) are not kept alive by the registry."""
    base = repr(pattern)
    key, copy = base, 1
    while (alive := _alive(key)) and not (alive[0] is pattern or alive[0] == pattern):
        copy += 1
        key = f"{base}#{copy}"
    if not any(p is pattern for p in alive):
        _BY_KEY.setdefault(key, []).append(weakref.ref(pattern, functools.partial(_forget, key)))
    object.__setattr__(pattern, "plan_key", key)


def by_key(key: str) -> "Pattern":
    alive = _alive(key)
    if not alive:
        raise KeyError(key)
    return alive[0]


@functools.lru_cache(maxsize=512)
def _cached_plan(pattern: Pattern, n: int, heads: int) -> Plan:
    return pattern._plan(n, heads)


# ---------------------------------------------------------------------------------------------
# helpers shared by the tiled patterns


def split_heads(heads: int, groups: int) -> list[tuple[int, int]]:
    """``(first_head, size)`` of ``groups`` consecutive head groups: sizes ``heads // groups``,
    the first ``heads % groups`` one larger (a group is empty where ``heads < groups``)."""
    sizes = [heads // groups + (1 if i < heads % groups else 0) for i in range(groups)]
    starts = [sum(sizes[:i]) for i in range(groups)]
    return list(zip(starts, sizes))


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def tiles(n: int, length: int) -> list[Segmentation]:
    """Segments of ``length`` tiling [0, n) from 0; the last may be shorter; ``length >= n``
    means one segment [0, n)."""
    length = min(length, n)
    full = n // length
    out = [Segmentation(0, length, full)] if full else []
    if n - full * length:
        out.append(Segmentation(full * length, n - full * length, 1))
    return out


def lane_intervals(rate: int, length: int, heads: int, per_head: bool) -> Iterator[tuple[int, int, int, int]]:
    """Split residues ``d < rate`` of a segment of ``length`` rows into intervals on which the
    row count (and, with ``per_head``, the count of heads ``h = d mod rate``) is constant.

    Yields ``(d0, d1, rows, heads_per_lane)``.
    """
    top = min(rate, length, heads) if per_head else min(rate, length)
    cuts = {0, top, length % rate}
    if per_head:
        cuts.add(heads % rate)
    edges = sorted(c for c in cuts if 0 <= c <= top)
    for d0, d1 in zip(edges, edges[1:]):
        rows = ceil_div(length - d0, rate)
        lane_heads = ceil_div(heads - d0, rate) if per_head else heads
        yield d0, d1, rows, lane_heads


def segment_members(n: int, segs: Sequence[Segmentation], ordering: Ordering):
    """Yield ``(positions, rows)`` per segment: original positions in permuted row order."""
    for seg in segs:
        perm = permutation(ordering, seg.length, torch.device("cpu"))
        rows = torch.arange(seg.length)
        local = rows if perm is None else perm.cpu()
        for s in range(seg.count):
            yield seg.start + s * seg.length + local, rows


def pair_mask(n: int, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    allowed = torch.zeros(n, n, dtype=torch.bool)
    allowed[queries.unsqueeze(1), keys.unsqueeze(0)] = True
    return allowed


def _check_lists(segment_lengths: Sequence[int], dilation_rates: Sequence[int]) -> None:
    if len(segment_lengths) != len(dilation_rates):
        raise ValueError(
            "segment_lengths and dilation_rates must have the same length, got "
            f"{len(segment_lengths)} and {len(dilation_rates)}"
        )
    if len(segment_lengths) == 0:
        raise ValueError("segment_lengths must not be empty")
    for name, values in (("segment_lengths", segment_lengths), ("dilation_rates", dilation_rates)):
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must hold positive integers, got {list(values)}")


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dense(Pattern):
    """Plain softmax attention: every query sees every key."""

    def __post_init__(self) -> None:
        remember(self)

    def _plan(self, n: int, heads: int) -> Plan:
        part = StridedParts(1, n, 1, 0, heads, 0, 1, 0, n, 1, 0, n, 1)
        return Plan((Branch((Segmentation(0, n, 1),), (part,)),), "lse", disjoint=True)

    def reference_parts(self, n, heads, ordering):
        return [ReferencePart(tuple(range(heads)), torch.ones(n, n, dtype=torch.bool))]

    def label_parts(self, n, heads, ordering):
        zero = torch.zeros(n, dtype=torch.long)
        return [LabelPart(tuple(range(heads)), zero, zero)]


@dataclass(frozen=True, init=False)
class Dilated(Pattern):
    """LongNet dilated attention.

    For each pair ``(w_i, r_i)`` the sequence is cut into segments of ``w_i`` tokens (from
    position 0; the last segment may be shorter) and inside each segment the rows with the
    same residue modulo ``r_i`` attend to each other.

    ``mixing="lse"`` (LongNet, default): head ``h`` uses residue ``h mod r_i`` in every pair;
    the pairs' outputs mix with weights ``softmax(lse_i)`` (LongNet eq. 10).
    ``mixing="head_groups"``: heads split into one group per pair (sizes ``h // G``, the first
    ``h % G`` one larger); group ``i`` uses residue ``i mod r_i``; the output is divided by G.
    """

    segment_lengths: tuple[int, ...]
    dilation_rates: tuple[int, ...]
    mixing: Literal["lse", "head_groups"]

    def __init__(self, segment_lengths: Sequence[int], dilation_rates: Sequence[int],
                 mixing: Literal["lse", "head_groups"] = "lse") -> None:
        segment_lengths, dilation_rates = tuple(segment_lengths), tuple(dilation_rates)
        _check_lists(segment_lengths, dilation_rates)
        if mixing not in ("lse", "head_groups"):
            raise ValueError(f"mixing must be 'lse' or 'head_groups', got {mixing!r}")
        object.__setattr__(self, "segment_lengths", segment_lengths)
        object.__setattr__(self, "dilation_rates", dilation_rates)
        object.__setattr__(self, "mixing", mixing)
        remember(self)

    @property
    def combine(self) -> str:  # type: ignore[override]
        return "lse" if self.mixing == "lse" else "sum"

    def head_groups(self, heads: int) -> list[tuple[int, int]]:
        """``(first_head, size)`` of each group under ``mixing="head_groups"``."""
        return split_heads(heads, len(self.segment_lengths))

    def _plan(self, n: int, heads: int) -> Plan:
        branches = []
        g = len(self.segment_lengths)
        groups = self.head_groups(heads)
        for i, (w, r) in enumerate(zip(self.segment_lengths, self.dilation_rates)):
            segs = tuple(tiles(n, w))
            parts = []
            for seg in segs:
                if self.mixing == "lse":
                    for d0, d1, rows, lane_heads in lane_intervals(r, seg.length, heads, per_head=True):
                        parts.append(StridedParts(
                            seg.count, seg.length, d1 - d0, 1, lane_heads, d0, r,
                            seg.start + d0, rows, r, seg.start + d0, rows, r))
                else:
                    first, size = groups[i]
                    offset = i % r
                    if size == 0 or offset >= seg.length:
                        continue
                    rows = ceil_div(seg.length - offset, r)
                    parts.append(StridedParts(
                        seg.count, seg.length, 1, 0, size, first, 1,
                        seg.start + offset, rows, r, seg.start + offset, rows, r, weight=1.0 / g))
            branches.append(Branch(segs, tuple(parts)))
        return Plan(tuple(branches), self.combine, disjoint=self.mixing == "head_groups")  # type: ignore[arg-type]

    def reference_parts(self, n, heads, ordering):
        out = []
        g = len(self.segment_lengths)
        groups = self.head_groups(heads)
        for i, (w, r) in enumerate(zip(self.segment_lengths, self.dilation_rates)):
            if self.mixing == "lse":
                choices = [(o, tuple(h for h in range(heads) if h % r == o), 1.0) for o in range(r)]
            else:
                first, size = groups[i]
                choices = [(i % r, tuple(range(first, first + size)), 1.0 / g)]
            for offset, head_set, weight in choices:
                if not head_set:
                    continue
                allowed = torch.zeros(n, n, dtype=torch.bool)
                for positions, rows in segment_members(n, tiles(n, w), ordering):
                    chosen = positions[rows % r == offset]
                    allowed |= pair_mask(n, chosen, chosen)
                out.append(ReferencePart(head_set, allowed, weight))
        return out

    def label_parts(self, n, heads, ordering):
        out = []
        g = len(self.segment_lengths)
        groups = self.head_groups(heads)
        for i, (w, r) in enumerate(zip(self.segment_lengths, self.dilation_rates)):
            seg_of, row_of = segment_rows(n, tiles(n, w), ordering)
            if self.mixing == "lse":
                choices = [(o, tuple(h for h in range(heads) if h % r == o), 1.0) for o in range(r)]
            else:
                first, size = groups[i]
                choices = [(i % r, tuple(range(first, first + size)), 1.0 / g)]
            for offset, head_set, weight in choices:
                if head_set:
                    labels = torch.where((row_of >= 0) & (row_of % r == offset), seg_of, -1)
                    out.append(LabelPart(head_set, labels, labels, weight))
        return out
