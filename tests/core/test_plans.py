"""Plan invariants the fast backend relies on: parts of a branch never overlap, and a plan
that says it is disjoint covers each (position, head) at most once."""

import pytest
import torch

import ringlib
from ringlib import compat
from ringlib.backends.strided import _pieces, rows_view

PATTERNS = [
    ringlib.Dense(),
    ringlib.Dilated([16, 40, 64], [1, 3, 5]),
    ringlib.Dilated([16, 40, 64], [2, 3, 5], mixing="head_groups"),
    compat.Regions([24, 30, 200], [2, 3, 4]),
    compat.FirstSegment([32, 48], [1, 3]),
    compat.StridedKeys([24, 40], [2, 3]),
]


@pytest.mark.parametrize("pattern", PATTERNS, ids=repr)
@pytest.mark.parametrize("n, heads", [(70, 5), (128, 8), (9, 1)])
def test_branch_parts_are_disjoint(pattern, n, heads):
    plan = pattern.plan(n, heads)
    total = torch.zeros(1, n, heads)
    for branch in plan.branches:
        cover = torch.zeros(1, n, heads)
        for piece in _pieces(branch):
            rows_view(cover, piece, keys=False).add_(1)
        assert cover.max() <= 1
        total += cover
    if plan.disjoint:
        assert total.max() <= 1
    reference = torch.zeros(n, heads, dtype=torch.bool)
    for part in pattern.reference_parts(n, heads, None):
        reference[part.allowed.any(1).nonzero().squeeze(1).unsqueeze(1), list(part.heads)] = True
    assert torch.equal(total[0] > 0, reference)


def test_repeated_regions_fold_into_one_family_per_kind():
    pattern = compat.Regions([16, 32, 64] * 5, [1, 2, 4] * 5)
    parts = pattern.plan(560, 4).branches[0].parts
    assert [(p.segments, p.segment_stride, p.lanes) for p in parts] == [(5, 112, 1), (5, 112, 2), (5, 112, 4)]


@pytest.mark.parametrize("causal", [False, True])
def test_lanes_fold_into_heads_when_rows_are_packed(monkeypatch, causal):
    """Regions runs one kernel call per family (lanes in the heads dimension) on packed
    tensors, one per lane otherwise, with the same result."""
    from ringlib.backends import kernels

    calls = []
    forward = kernels.forward
    monkeypatch.setattr(kernels, "forward", lambda *a: calls.append(a[0].shape) or forward(*a))
    pattern = compat.Regions([16, 32, 64] * 2, [1, 2, 4] * 2)
    gen = torch.Generator().manual_seed(0)
    qkv = torch.randn(1, 224, 3, 4, 8, generator=gen, dtype=torch.float64)
    packed = [t.contiguous() for t in qkv.unbind(2)]
    folded = ringlib.attention(*packed, pattern, causal=causal)
    assert len(calls) == 3 and calls[2][1] == 4 * 4  # rate-4 lanes x 4 heads in one call
    calls.clear()
    unpacked = ringlib.attention(*qkv.unbind(2), pattern, causal=causal)  # rows 3 heads apart
    assert len(calls) == 1 + 2 + 4
    torch.testing.assert_close(folded, unpacked, rtol=0, atol=1e-12)
    reference = ringlib.attention(*packed, pattern, causal=causal, backend="reference")
    torch.testing.assert_close(folded, reference)
