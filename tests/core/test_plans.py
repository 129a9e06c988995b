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
