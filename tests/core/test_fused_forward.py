"""The one-launch Triton forward, run by Triton's interpreter on the CPU: same definitions
as the float64 reference (flash-style tolerance against a plain half-precision run), every
pattern family shape (lanes, partial segments, weights, LSE and sum combines, causal)."""

import sys

import pytest
import torch

import ringlib
from ringlib import compat, dispatch
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


def test_is_taken_only_without_autograd(monkeypatch):
    monkeypatch.setattr(dispatch, "one_launch_supported", lambda *a: True)  # CUDA only, outside the tests
    calls = []
    plan_forward = fused_forward.plan_forward
    monkeypatch.setattr(fused_forward, "plan_forward", lambda *a: calls.append(1) or plan_forward(*a))
    pattern = ringlib.Dilated([64, 128], [1, 2])
    q, k, v = (torch.randn(1, 256, 4, 32, dtype=torch.float16) for _ in range(3))
    with torch.no_grad():
        fast = ringlib.attention(q, k, v, pattern)
    assert calls == [1]
    q.requires_grad_()
    with ringlib.kernel_options(fused_plan=False):
        slow = ringlib.attention(q, k, v, pattern)
    assert calls == [1] and slow.requires_grad
    torch.testing.assert_close(fast, slow.detach(), atol=2e-3, rtol=0)


@pytest.mark.parametrize("block_n", [16, 64, 128])
def test_tile_sizes(block_n):
    """Key tiles smaller or larger than the query tile (masking of the causal diagonal)."""
    with ringlib.kernel_options(one_launch_block_n=block_n):
        test_matches_reference(ringlib.Dilated([64, 128, 256], [1, 2, 4]), causal=True)
