"""The one-launch Triton forward, run by Triton's interpreter on the CPU: same definitions
as the float64 reference (flash-style tolerance against a plain half-precision run), every
pattern family shape (lanes, partial segments, weights, LSE and sum combines, causal)."""

import sys

import pytest
import torch

import ringlib
from ringlib import compat
from ringlib.backends import fused_forward
from ringlib.testing import assert_close_to_reference

if sys.platform == "linux":
    assert fused_forward.triton is not None, "Triton is a test dependency (pyproject's [test] extra)"
else:  # Triton publishes Linux wheels only
    pytest.skip("Triton is not installable on this platform", allow_module_level=True)

PATTERNS = [
    ringlib.Dense(),
    ringlib.Dilated([64, 128, 256], [1, 2, 4]),
    ringlib.Dilated([64, 128, 256], [1, 2, 4], mixing="head_groups"),
    ringlib.Dilated([48, 200], [3, 5]),
    compat.Regions([64, 96] * 2, [1, 2] * 2),
    compat.FirstSegment([64, 128], [1, 2]),
    compat.StridedKeys([64, 128], [1, 2]),
]


@pytest.mark.parametrize("pattern", PATTERNS, ids=repr)
@pytest.mark.parametrize("causal", [False, True])
def test_matches_reference(pattern, causal):
    gen = torch.Generator().manual_seed(0)
    qkv = torch.randn(2, 300, 3, 5, 32, generator=gen, dtype=torch.float64)
    q, k, v = qkv.unbind(2)  # strided operands, as a fused projection makes them
    plan = pattern.plan(300, 5)
    result = fused_forward.plan_forward(*(t.half() for t in (q, k, v)), plan, 32**-0.5, causal)
    if result is None:  # causal families whose queries and keys differ: the sdpa path's job
        assert causal and not all(p.same_rows for b in plan.branches for p in b.parts)
        return
    reference = ringlib.attention(q, k, v, pattern, causal=causal, backend="reference")
    plain = ringlib.attention(*(t.half() for t in (q, k, v)), pattern, causal=causal, backend="reference")
    assert_close_to_reference(result[0], plain, reference)


@pytest.mark.parametrize("block_n", [16, 64, 128])
def test_tile_sizes(monkeypatch, block_n):
    """Key tiles smaller or larger than the query tile (masking of the causal diagonal)."""
    monkeypatch.setitem(fused_forward.LAUNCH, "block_n", block_n)
    test_matches_reference(ringlib.Dilated([64, 128, 256], [1, 2, 4]), causal=True)
