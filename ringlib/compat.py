"""Compatibility profiles: what the old ``dilated_attention_pytorch`` classes actually computed.

These patterns exist so that old checkpoints and experiments keep their numbers (the shim's
"preserve" policy); new code should use ``ringlib.Dilated``. Each is named by its profile in
MIGRATION.md (REGIONS, FIRST_SEGMENT, STRIDED_KEYS) and expressed here as parts plus a combine
rule, so it runs on every backend and through the ring like any other pattern.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal, Sequence

import torch

from ringlib.patterns import (
    LabelPart,
    Pattern,
    ReferencePart,
    _check_lists,
    ceil_div,
    lane_intervals,
    pair_mask,
    remember,
    segment_members,
    segment_rows,
    tiles,
)
from ringlib.plan import Branch, Plan, Segmentation, StridedParts

__all__ = ["Regions", "FirstSegment", "StridedKeys", "curve_b"]


def _lists(segment_lengths, dilation_rates):
    segment_lengths, dilation_rates = tuple(segment_lengths), tuple(dilation_rates)
    _check_lists(segment_lengths, dilation_rates)
    return segment_lengths, dilation_rates


def _evenly_spaced(regions: list[tuple[Segmentation, int]]) -> list[tuple[tuple[int, int], list[int]]]:
    """Group regions of equal (length, rate) whose starts are evenly spaced: each group is one
    strided family (one kernel call), e.g. a region list repeated along the sequence."""
    by_kind: dict[tuple[int, int], list[int]] = {}
    for seg, rate in regions:
        by_kind.setdefault((seg.length, rate), []).append(seg.start)
    groups = []
    for kind, starts in by_kind.items():
        run = [starts[0]]
        for start in starts[1:]:
            if len(run) == 1 or start - run[-1] == run[1] - run[0]:
                run.append(start)
            else:
                groups.append((kind, run))
                run = [start]
        groups.append((kind, run))
    return groups


@dataclass(frozen=True, init=False)
class Regions(Pattern):
    """REGIONS: regions of ``s_j`` tokens laid one after another from 0 (not
    tiled); inside region ``j`` every residue class modulo ``r_j`` attends to itself; positions
    after the last region output 0. All heads alike. The legacy ordering is ``"snake"``."""

    segment_lengths: tuple[int, ...]
    dilation_rates: tuple[int, ...]
    combine = "sum"

    def __init__(self, segment_lengths: Sequence[int], dilation_rates: Sequence[int]) -> None:
        segment_lengths, dilation_rates = _lists(segment_lengths, dilation_rates)
        object.__setattr__(self, "segment_lengths", segment_lengths)
        object.__setattr__(self, "dilation_rates", dilation_rates)
        remember(self)

    def regions(self, n: int) -> list[tuple[Segmentation, int]]:
        out, start = [], 0
        for length, rate in zip(self.segment_lengths, self.dilation_rates):
            if start >= n:
                break
            end = min(start + length, n)
            out.append((Segmentation(start, end - start, 1), rate))
            start = end
        return out

    def _plan(self, n: int, heads: int) -> Plan:
        parts = []
        regions = self.regions(n)
        for (length, rate), starts in _evenly_spaced(regions):
            count, stride = len(starts), (starts[1] - starts[0] if len(starts) > 1 else length)
            for d0, d1, rows, _ in lane_intervals(rate, length, heads, per_head=False):
                parts.append(StridedParts(count, stride, d1 - d0, 0, heads, 0, 1,
                                          starts[0] + d0, rows, rate, starts[0] + d0, rows, rate))
        return Plan((Branch(tuple(seg for seg, _ in regions), tuple(parts)),), "sum", disjoint=True)

    def reference_parts(self, n, heads, ordering):
        out = []
        for seg, rate in self.regions(n):
            for positions, rows in segment_members(n, [seg], ordering):
                for offset in range(rate):
                    chosen = positions[rows % rate == offset]
                    if len(chosen):
                        out.append(ReferencePart(tuple(range(heads)), pair_mask(n, chosen, chosen)))
        return out

    def label_parts(self, n, heads, ordering):
        # the (region, residue) classes are disjoint and summed with weight 1: one part whose
        # label is the class gives every row exactly its own class's output
        regions = self.regions(n)
        if not regions:
            return []
        seg_of, row_of = segment_rows(n, [seg for seg, _ in regions], ordering)
        rates = torch.tensor([rate for _, rate in regions])
        base = torch.cumsum(rates, 0) - rates  # first class label of each region
        inside = seg_of >= 0
        labels = torch.where(inside, base[seg_of.clamp(min=0)] + row_of % rates[seg_of.clamp(min=0)], -1)
        return [LabelPart(tuple(range(heads)), labels, labels)]


@dataclass(frozen=True, init=False)
class FirstSegment(Pattern):
    """FIRST_SEGMENT: per pair one index set ``{0, r, 2r, ...}`` anchored at 0
    (pairs with ``s > n`` skipped); dense attention inside each set; the output is the mean
    over the kept pairs (zeros included). ``variant`` "v3" / "sdpa" count the set's size as
    ``min(s, ceil(n / r))`` / ``min(s, n // r)``."""

    segment_lengths: tuple[int, ...]
    dilation_rates: tuple[int, ...]
    variant: Literal["v3", "sdpa"]
    combine = "sum"

    def __init__(self, segment_lengths: Sequence[int], dilation_rates: Sequence[int],
                 variant: Literal["v3", "sdpa"] = "v3") -> None:
        segment_lengths, dilation_rates = _lists(segment_lengths, dilation_rates)
        if variant not in ("v3", "sdpa"):
            raise ValueError(f"variant must be 'v3' or 'sdpa', got {variant!r}")
        object.__setattr__(self, "segment_lengths", segment_lengths)
        object.__setattr__(self, "dilation_rates", dilation_rates)
        object.__setattr__(self, "variant", variant)
        remember(self)

    def index_sets(self, n: int) -> list[tuple[int, int]]:
        """``(count, rate)`` of each kept pair: the set is ``{0, rate, ..., (count-1)*rate}``."""
        kept = []
        for s, r in zip(self.segment_lengths, self.dilation_rates):
            if s > n:
                continue
            if r == 1:
                count = s
            else:
                count = min(s, ceil_div(n, r) if self.variant == "v3" else n // r)
            kept.append((count, r))
        return kept

    def _plan(self, n: int, heads: int) -> Plan:
        kept = [(c, r) for c, r in self.index_sets(n)]
        weight = 1.0 / len(kept) if kept else 1.0
        whole = (Segmentation(0, n, 1),)
        branches = tuple(Branch(whole, (StridedParts(1, n, 1, 0, heads, 0, 1, 0, c, r, 0, c, r, weight=weight),))
                         for c, r in kept if c > 0)
        return Plan(branches, "sum")

    def reference_parts(self, n, heads, ordering):
        kept = self.index_sets(n)
        out = []
        ((positions, rows),) = segment_members(n, [Segmentation(0, n, 1)], ordering)
        for count, rate in kept:
            chosen = positions[(rows % rate == 0) & (rows < count * rate)]
            if count:
                out.append(ReferencePart(tuple(range(heads)), pair_mask(n, chosen, chosen), 1.0 / len(kept)))
        return out

    def label_parts(self, n, heads, ordering):
        kept = self.index_sets(n)
        _, row_of = segment_rows(n, [Segmentation(0, n, 1)], ordering)
        out = []
        for count, rate in kept:
            if count:
                labels = torch.where((row_of % rate == 0) & (row_of < count * rate), 0, -1)
                out.append(LabelPart(tuple(range(heads)), labels, labels, 1.0 / len(kept)))
        return out


@dataclass(frozen=True, init=False)
class StridedKeys(Pattern):
    """STRIDED_KEYS: heads split into ``G`` groups of ``max(1, h // G)``
    (leftover heads output 0); group ``i`` tiles the sequence with ``min(s_i, n)``; every
    query of a tile attends to the tile rows ``0, r_i, 2 r_i, ...``. The legacy scale is
    ``dim ** -0.5`` (pass ``scale=``) and the legacy ordering ``curve_b``."""

    segment_lengths: tuple[int, ...]
    dilation_rates: tuple[int, ...]
    combine = "sum"

    def __init__(self, segment_lengths: Sequence[int], dilation_rates: Sequence[int]) -> None:
        segment_lengths, dilation_rates = _lists(segment_lengths, dilation_rates)
        object.__setattr__(self, "segment_lengths", segment_lengths)
        object.__setattr__(self, "dilation_rates", dilation_rates)
        remember(self)

    def head_groups(self, heads: int) -> list[tuple[int, int]]:
        g = len(self.segment_lengths)
        per = max(1, heads // g)
        return [(i * per, min((i + 1) * per, heads) - i * per) for i in range(g) if i * per < heads]

    def _plan(self, n: int, heads: int) -> Plan:
        branches = []
        for (first, size), s, r in zip(self.head_groups(heads), self.segment_lengths, self.dilation_rates):
            segs = tuple(tiles(n, s))
            parts = tuple(StridedParts(seg.count, seg.length, 1, 0, size, first, 1,
                                       seg.start, seg.length, 1, seg.start, ceil_div(seg.length, r), r)
                          for seg in segs)
            branches.append(Branch(segs, parts))
        return Plan(tuple(branches), "sum", disjoint=True)

    def reference_parts(self, n, heads, ordering):
        out = []
        for (first, size), s, r in zip(self.head_groups(heads), self.segment_lengths, self.dilation_rates):
            allowed = torch.zeros(n, n, dtype=torch.bool)
            for positions, rows in segment_members(n, tiles(n, s), ordering):
                allowed |= pair_mask(n, positions, positions[rows % r == 0])
            out.append(ReferencePart(tuple(range(first, first + size)), allowed))
        return out

    def label_parts(self, n, heads, ordering):
        out = []
        for (first, size), s, r in zip(self.head_groups(heads), self.segment_lengths, self.dilation_rates):
            seg_of, row_of = segment_rows(n, tiles(n, s), ordering)
            out.append(LabelPart(tuple(range(first, first + size)), seg_of, torch.where(row_of % r == 0, seg_of, -1)))
        return out


@functools.lru_cache(maxsize=None)
def _curve_b_raw(n: int) -> tuple[int, ...]:
    dim = 1
    while dim * dim < n:
        dim *= 2
    kept = []
    for t in range(n):
        x = y = 0
        s, idx = 1, t
        while s < dim:
            rx = 1 & (idx // 2)
            ry = 1 & (idx ^ rx)
            if ry == 0:
                if rx == 1:
                    x, y = s - 1 - x, s - 1 - y
                else:
                    x, y = y, x
            x += s * rx
            y += s * ry
            idx //= 4
            s *= 2
        if x * dim + y < n:
            kept.append(x * dim + y)
    kept.extend(range(len(kept), n))
    return tuple(kept[:n])


def curve_b(m: int) -> list[int]:
    """The ordering of the old strided-keys class (MIGRATION.md, profile ``STRIDED_KEYS``):
    its Hilbert-like curve where that is a permutation and ``m > 64``, else the identity
    (the old code applied non-permutations too and corrupted outputs; not reproduced)."""
    raw = _curve_b_raw(m)
    if m <= 64 or sorted(raw) != list(range(m)):
        return list(range(m))
    return list(raw)
