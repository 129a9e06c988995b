"""Compatibility profiles: what older dilated-attention code actually computed.

These exist so that old checkpoints and experiments keep their numbers (the shim's "preserve"
policy); new code should use ``ringlib.Dilated``. Each is named by its profile in MIGRATION.md.
REGIONS, FIRST_SEGMENT and STRIDED_KEYS are patterns (parts plus a combine rule: every backend,
the ring). HEAD_AXIS attends across the heads at one position, which no pattern can express: it
is an attention core (``ringlib.AttentionCore``) computed with ``ringlib.attention`` on a
heads-as-sequence view. ``SegmentsPerCall`` chooses the segments at each call (``FitSegments``:
from the sequence length and the free device memory).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import torch

from ringlib.cores import AttentionCore
from ringlib.functional import attention
from ringlib.orderings import Ordering
from ringlib.ring.sharding import positions

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
    split_heads,
    tiles,
)
from ringlib.plan import Branch, Plan, Segmentation, StridedParts

__all__ = ["Regions", "FirstSegment", "StridedKeys", "HeadAxis", "SegmentsPerCall", "FitSegments", "curve_b"]

Tensor = torch.Tensor


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
            for members, rows in segment_members(n, [seg], ordering):
                for offset in range(rate):
                    chosen = members[rows % rate == offset]
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
            for members, rows in segment_members(n, tiles(n, s), ordering):
                allowed |= pair_mask(n, members, members[rows % r == 0])
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


def _world(group) -> tuple[int, int]:
    if group is None:
        return 1, 0
    import torch.distributed as dist

    return dist.get_world_size(group), dist.get_rank(group)


@dataclass(frozen=True, init=False)
class HeadAxis(AttentionCore):
    """HEAD_AXIS: attention across the heads of a group at one position.

    Heads split into one group per pair ``(s_i, r_i)`` as ``ringlib.Dilated(...,
    mixing="head_groups")`` splits them. The sequence is cut into segments of ``s_i`` from 0
    (the last may be shorter); at the rows ``i % r_i, i % r_i + r_i, ...`` of every segment the
    heads of group ``i`` attend to each other: their q, k, v at that position form a sequence of
    heads (``causal`` masks later heads; ``scale`` defaults to ``head_dim ** -0.5``). Elsewhere a
    group outputs 0; the output is divided by the group count. No pattern expresses this: a
    pattern masks queries and keys of one head over the sequence and never mixes heads.

    Cost: one small attention over the heads at every position (``O(n h^2 d)``, no loop over
    groups or segments), masked to the selected rows. With a process ``group`` each rank
    computes its own rows (the computation never leaves a position). ``ordering`` must be None.
    """

    segment_lengths: tuple[int, ...]
    dilation_rates: tuple[int, ...]

    def __init__(self, segment_lengths: Sequence[int], dilation_rates: Sequence[int]) -> None:
        segment_lengths, dilation_rates = _lists(segment_lengths, dilation_rates)
        object.__setattr__(self, "segment_lengths", segment_lengths)
        object.__setattr__(self, "dilation_rates", dilation_rates)

    def head_groups(self, heads: int) -> list[tuple[int, int]]:
        """``(first_head, size)`` of each group (empty groups where ``heads`` < the group count)."""
        return split_heads(heads, len(self.segment_lengths))

    def selected(self, rows: Tensor, heads: int) -> Tensor:
        """``(len(rows), heads)`` booleans: where each head's group attends (``rows``: global positions)."""
        sizes = torch.tensor([size for _, size in self.head_groups(heads)], device=rows.device)
        group = torch.repeat_interleave(torch.arange(len(sizes), device=rows.device), sizes)
        length = torch.tensor(self.segment_lengths, device=rows.device)[group]
        rate = torch.tensor(self.dilation_rates, device=rows.device)[group]
        return rows[:, None] % length % rate == group % rate

    def attend(self, q: Tensor, k: Tensor, v: Tensor, *, causal: bool, scale: float | None, ordering: Ordering,
               dropout_p: float, dropout_seed: int | None, group, backend: str, layout: str) -> Tensor:
        if ordering is not None:
            raise ValueError(f"ordering must be None for HeadAxis (it attends across heads at one position, "
                             f"there is no segment order to permute), got {ordering!r}")
        b, n, h, d = q.shape
        world, rank = _world(group)
        rows = positions(layout, world, rank, n, device=q.device)
        sizes = [size for _, size in self.head_groups(h) if size]
        as_sequence = [t.reshape(b * n, h, 1, d) for t in (q, k, v)]  # heads become the sequence axis
        out = attention(*as_sequence, Regions(sizes, [1] * len(sizes)), causal=causal, scale=scale,
                        dropout_p=dropout_p, dropout_seed=dropout_seed, backend=backend)
        keep = self.selected(rows, h)[None, :, :, None]
        return torch.where(keep, out.view(b, n, h, d) / len(self.segment_lengths), out.new_zeros(()))


def _nearest_power_of_two(value: int) -> int:
    """The closer power of two around ``value`` (the upper one on ties); 1 for ``value <= 1``."""
    if value <= 1:
        return 1
    upper = 1 << (value - 1).bit_length()
    return upper // 2 if upper - value > value - upper // 2 else upper


#: Block sizes by device name (the first name contained in the device's wins), else by compute capability.
_BLOCK_BY_NAME = (("H100", 256), ("H200", 256), ("A100", 128), ("A10", 128), ("V100", 64))


def device_room(device: torch.device) -> tuple[int, int]:
    """``(free bytes, block size)`` of ``device``: CUDA's free memory and its kernel block size
    (by name, else 256 / 128 / 64 / 32 from compute capability 9 / 8 / 7 / older); ``(0, 32)`` elsewhere."""
    device = torch.device(device)
    if device.type != "cuda":
        return 0, 32
    free, _ = torch.cuda.mem_get_info(device)
    props = torch.cuda.get_device_properties(device)
    block = next((size for name, size in _BLOCK_BY_NAME if name in props.name), None)
    if block is None:
        block = 256 if props.major >= 9 else 128 if props.major >= 8 else 64 if props.major >= 7 else 32
    return free, block


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


@dataclass(frozen=True)
class FitSegments:
    """Segment lengths and rates for a sequence that fit the free memory of its device.

    ``choose(n, q)`` (as :class:`SegmentsPerCall` calls it; ``n`` the whole sequence length) reads
    the free memory of ``q``'s device and applies :meth:`rule`: a base length by sequence band
    (``min(512, n)`` up to 2048 tokens, 1024 up to 8192, 2048 up to 32768, else 4096), rounded up to
    the device's block size and then to the nearest power of two. Candidates: geometric ladders
    from the base (ratios 1.5, 2, 2.5, 3; each step rounded to the nearest power of two; at most
    ``max_segments`` lengths, none above ``n`` or ``max_segment_size``) and ``c = min(4, n // base)``
    equal lengths ``pow2(n // c)``. A candidate fits where ``1.2 (4 b s h d + b s^2 h)`` bytes of
    its largest ``s`` stay within ``free * memory_fraction - reserve_gb`` (GB of 1e9 bytes); the
    fitting one scoring highest (``0.5 min(1, max / n) + 0.3 distinct / count + 0.2 / count``, the
    first on ties) wins. None fitting (always on CPU: no free device memory is reported):
    ``[min(min_segment_size, n)]``. Where ``n`` is not a multiple of the largest length, the last
    length becomes the largest divisor of ``n`` not above it. Rates: ``1, 2, 4, ...``.
    """

    min_segment_size: int = 512
    max_segment_size: int = 65536
    memory_fraction: float = 0.8
    reserve_gb: float = 0.5
    max_segments: int = 5

    def __post_init__(self) -> None:
        for name in ("min_segment_size", "max_segment_size", "max_segments"):
            _positive_int(name, getattr(self, name))
        if isinstance(self.memory_fraction, bool) or not isinstance(self.memory_fraction, (int, float)) \
                or not 0 < self.memory_fraction <= 1:
            raise ValueError(f"memory_fraction must be in (0, 1], got {self.memory_fraction!r}")
        if isinstance(self.reserve_gb, bool) or not isinstance(self.reserve_gb, (int, float)) or self.reserve_gb < 0:
            raise ValueError(f"reserve_gb must be a number >= 0, got {self.reserve_gb!r}")

    def __call__(self, n: int, q: Tensor) -> tuple[list[int], list[int]]:
        free, block = device_room(q.device)
        return self.rule(n, q.shape[0], q.shape[2], q.shape[3], q.element_size(), free, block)

    def rule(self, n: int, batch: int, heads: int, head_dim: int, itemsize: int, free_bytes: int,
             block: int) -> tuple[list[int], list[int]]:
        """The choice for ``n`` tokens of ``batch x heads x head_dim`` at ``itemsize`` bytes, with
        ``free_bytes`` free on a device of kernel block size ``block`` (no device is read)."""
        _positive_int("n", n)
        base = min(512, n) if n <= 2048 else 1024 if n <= 8192 else 2048 if n <= 32768 else 4096
        base = _nearest_power_of_two(-(-base // block) * block)
        candidates = []
        for ratio in (1.5, 2.0, 2.5, 3.0):
            ladder, length = [], base
            while len(ladder) < self.max_segments and length <= min(n, self.max_segment_size):
                ladder.append(length)
                length = _nearest_power_of_two(int(length * ratio))
            if ladder:
                candidates.append(ladder)
        count = min(4, n // base)
        if count:
            candidates.append([_nearest_power_of_two(n // count)] * count)
        room = max(0.0, free_bytes / 1e9 * self.memory_fraction - self.reserve_gb)
        best, best_score = None, float("-inf")
        for lengths in candidates:
            s = max(lengths)
            if 1.2 * (4 * batch * s * heads * head_dim + batch * s * s * heads) * itemsize / 1e9 > room:
                continue
            score = 0.5 * min(1.0, s / n) + 0.3 * len(set(lengths)) / len(lengths) + 0.2 / len(lengths)
            if score > best_score:
                best, best_score = lengths, score
        lengths = list(best) if best is not None else [min(self.min_segment_size, n)]
        largest = max(lengths)
        if n % largest:
            lengths[-1] = next(d for d in range(largest, 0, -1) if n % d == 0)
        return lengths, [2 ** i for i in range(len(lengths))]


class SegmentsPerCall(AttentionCore):
    """Segments chosen at the call from the input, then a pattern or core built on them.

    ``choose(n, q) -> (segment_lengths, dilation_rates)`` (``n``: the whole sequence length,
    ``q``: the local query, for its shape, dtype and device; default :class:`FitSegments`) and
    ``core(segment_lengths, dilation_rates)`` (default :class:`HeadAxis`; e.g.
    ``lambda s, r: ringlib.Dilated(s, r)``) computes the call. A choice is kept while later
    sequence lengths are multiples of its largest segment (a choice that reads free memory
    would otherwise change the numbers between calls); ``current`` is the choice in use and
    ``clear()`` forgets it. With a process group every rank must choose alike.
    """

    def __init__(self, choose: Callable[[int, Tensor], tuple[Sequence[int], Sequence[int]]] | None = None,
                 core: Callable[[Sequence[int], Sequence[int]], object] = HeadAxis) -> None:
        choose = FitSegments() if choose is None else choose
        for name, value in (("choose", choose), ("core", core)):
            if not callable(value):
                raise TypeError(f"{name} must be callable, got {type(value).__name__}")
        self.choose, self.core = choose, core
        self.current: tuple[tuple[int, ...], tuple[int, ...]] | None = None
        self._built: Pattern | AttentionCore | None = None

    def clear(self) -> None:
        self.current = self._built = None

    def __repr__(self) -> str:
        return f"SegmentsPerCall(choose={self.choose!r}, core={getattr(self.core, '__name__', self.core)!r})"

    def attend(self, q: Tensor, k: Tensor, v: Tensor, *, causal: bool, scale: float | None, ordering: Ordering,
               dropout_p: float, dropout_seed: int | None, group, backend: str, layout: str) -> Tensor:
        n = q.shape[1] * _world(group)[0]
        if self.current is None or n % max(self.current[0]):
            segments, rates = (tuple(int(x) for x in c) for c in self.choose(n, q))
            built = self.core(segments, rates)
            if not isinstance(built, (Pattern, AttentionCore)):
                raise TypeError(f"core(segment_lengths, dilation_rates) must build a ringlib pattern or attention "
                                f"core, got {type(built).__name__}")
            self.current, self._built = (segments, rates), built
        return attention(q, k, v, self._built, causal=causal, scale=scale, ordering=ordering, dropout_p=dropout_p,
                         dropout_seed=dropout_seed, group=group, backend=backend, layout=layout)
