"""The ring's generic strategy runs from O(n) label parts: they must mean exactly what the
reference parts (explicit masks) mean, and building the strategy must never allocate a mask of
shard x sequence elements."""

from __future__ import annotations

import pytest
import torch

import ringlib
from ringlib import compat
from ringlib.ring import masked, pairwise

PATTERNS = [
    (ringlib.Dense(), None),
    (ringlib.Dilated([12, 24], [1, 2]), None),
    (ringlib.Dilated([8, 16], [2, 4], mixing="head_groups"), "snake"),
    (ringlib.Dilated([32, 256], [1, 3]), lambda m: list(reversed(range(m)))),
    (compat.Regions([10, 20, 7], [1, 2, 3]), "snake"),
    (compat.FirstSegment([8, 16], [1, 2]), None),
    (compat.FirstSegment([8, 16, 200], [1, 3, 2], variant="sdpa"), "snake"),
    (compat.StridedKeys([12, 24], [1, 3]), compat.curve_b),
    (ringlib.BlockSparse("local_window", block_size=8, window_size=16), None),
    (ringlib.BlockSparse("dilated", block_size=4, normalization="per_block_sum", dilation_rates=[1, 2, 2]), None),
]


def _attend(parts, masks, combine, q, k, v):
    """Float64 attention of ``(n, h, d)`` inputs from parts given as explicit masks, combined by
    the pattern's rule: a plain evaluation independent of the ring."""
    n, h, d = q.shape
    outs, lses = [], []
    for part, allowed in zip(parts, masks):
        heads = list(part.heads)
        s = torch.einsum("ihd,jhd->hij", q[:, heads], k[:, heads]).masked_fill(~allowed, float("-inf"))
        lse = torch.logsumexp(s, -1)  # (Hp, n), -inf on rows that see nothing
        p = torch.exp(s - lse.unsqueeze(-1)).nan_to_num(0.0)
        o = torch.zeros(h, n, d, dtype=q.dtype)
        o[heads] = p @ v[:, heads].transpose(0, 1)
        full = torch.full((h, n), float("-inf"), dtype=q.dtype)
        full[heads] = lse
        outs.append((o, part.weight, heads))
        lses.append(full)
    if combine == "sum":
        return sum(o * w for o, w, _ in outs)
    total = torch.logsumexp(torch.stack(lses), 0)
    return sum(o * torch.exp(l - total).nan_to_num(0.0).unsqueeze(-1) for (o, _, _), l in zip(outs, lses))


@pytest.mark.parametrize("pattern,ordering", PATTERNS, ids=lambda x: type(x).__name__)
def test_label_parts_compute_what_reference_parts_compute(pattern, ordering):
    n, h, d = 48, 5, 4
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(n, h, d, generator=g, dtype=torch.float64) for _ in range(3))
    ref = pattern.reference_parts(n, h, ordering)
    lab = pattern.label_parts(n, h, ordering)
    expected = _attend(ref, [p.allowed for p in ref], pattern.combine, q, k, v)
    got = _attend(lab, [p.dense(n) for p in lab], pattern.combine, q, k, v)
    assert expected.abs().sum() > 0
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_seen_keys_are_those_some_query_may_attend_causally():
    part = ringlib.Dilated([12, 24], [1, 2]).label_parts(48, 2, "snake")[1]
    queries, keys = torch.arange(10, 30), torch.arange(48)
    allowed = part.allowed(queries, keys) & (keys.unsqueeze(0) <= queries.unsqueeze(1))
    assert torch.equal(part.seen(queries, keys, causal=True), allowed.any(0))
    assert torch.equal(part.seen(queries, keys, causal=False), part.allowed(queries, keys).any(0))


@pytest.mark.parametrize("pattern,ordering,layout_bytes", [
    (ringlib.Dilated([3000, 1 << 16], [2, 8]), "snake", 0),  # straddling segments, ordering across shards
    (ringlib.BlockSparse("local_window", block_size=64, window_size=256), None, 1024 ** 2),
], ids=["dilated", "block_sparse"])
def test_building_the_strategy_allocates_no_shard_by_sequence_mask(pattern, ordering, layout_bytes):
    n, world, heads = 1 << 16, 4, 4
    local = n // world  # 2^14: a shard x sequence mask would be 2^30 elements
    limit = 64 * n + layout_bytes  # bytes: a few O(n) label/position vectors; the layout's nb x nb table
    masked.build.cache_clear()
    if isinstance(pattern, ringlib.BlockSparse):  # the pattern's own (cached) layout is not the ring's to build
        pattern.counts(n // pattern.block_size, heads)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        views = [masked.build(pattern, n, heads, ordering, world, r, "contiguous", True) for r in range(world)]
        needs = [pairwise.needed(views[-1], src, heads, local) for src in range(world)]
    largest = max(e.cpu_memory_usage for e in prof.events())
    assert largest < limit, f"an allocation of {largest} bytes while building (limit {limit})"
    held = [t for v in views for p in v.parts for t in (p.heads, p.labels.query_labels, p.labels.key_labels,
                                                        p.labels.table) if t is not None]
    assert views[0].parts and max(t.numel() for t in held) <= max(n, layout_bytes)  # labels; the nb x nb table
    assert all(x.shape == (local, heads) for x in needs)
    assert needs[world - 2].any()  # the last rank needs keys of its predecessor
