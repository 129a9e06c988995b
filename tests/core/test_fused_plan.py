"""The one-launch forward + backward under autograd, run by Triton's interpreter on the CPU:
output and q/k/v gradients against the float64 reference (flash-style tolerance against a
plain half-precision run), for both combine rules it takes (LSE, disjoint sum), lanes,
partial segments, causal; and the dispatch that picks it."""

import sys

import pytest
import torch

import ringlib
from ringlib import dispatch
from ringlib.backends import fused_forward, fused_plan
from ringlib.testing import assert_close_to_reference

if sys.platform != "linux":  # Triton publishes Linux wheels only
    pytest.skip("Triton is not installable on this platform", allow_module_level=True)

CASES = [  # (pattern, causal): lanes + LSE, disjoint weighted sum, partial segments, dense
    (ringlib.Dilated([32, 64, 128], [1, 2, 4]), False),
    (ringlib.Dilated([32, 64, 128], [1, 2, 4]), True),
    (ringlib.Dilated([32, 64, 128], [1, 2, 4], mixing="head_groups"), False),
    (ringlib.Dilated([48, 100], [3, 5]), True),
    (ringlib.Dense(), False),
]


def _grads(q, k, v, grad, fn):
    leaves = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    out = fn(*leaves)
    return out, torch.autograd.grad(out, leaves, grad)


@pytest.mark.parametrize(("pattern", "causal"), CASES, ids=repr)
def test_gradients_match_reference(pattern, causal):
    gen = torch.Generator().manual_seed(0)
    qkv = torch.randn(1, 200, 3, 3, 16, generator=gen, dtype=torch.float64)
    q, k, v = qkv.unbind(2)  # strided operands, as a fused projection makes them
    grad = torch.randn(1, 200, 3, 16, generator=gen, dtype=torch.float64)
    plan = pattern.plan(200, 3)

    def run(backend):
        return lambda *x: ringlib.attention(*x, pattern, causal=causal, backend=backend)

    ref, g_ref = _grads(q, k, v, grad, run("reference"))
    half = [t.half() for t in (q, k, v)]
    plain, g_plain = _grads(*half, grad.half(), run("reference"))
    fused, g_fused = _grads(*half, grad.half(),
                            lambda *x: fused_plan.attention(*x, plan, 16**-0.5, causal))
    assert_close_to_reference(fused, plain, ref)
    for name, a, p, r in zip("qkv", g_fused, g_plain, g_ref):
        assert_close_to_reference(a, p, r, what=f"d{name}")


def test_is_the_route_under_autograd_when_switched_on(monkeypatch):
    monkeypatch.setattr(dispatch, "one_launch_supported", lambda *a: True)  # CUDA only, outside the tests
    forwards, backwards = [], []
    plan_forward, plan_backward = fused_forward.plan_forward, fused_plan.plan_backward
    monkeypatch.setattr(fused_forward, "plan_forward", lambda *a: forwards.append(1) or plan_forward(*a))
    monkeypatch.setattr(fused_plan, "plan_backward", lambda *a: backwards.append(1) or plan_backward(*a))
    pattern = ringlib.Dilated([64, 128], [1, 2])
    q, k, v = (torch.randn(1, 256, 2, 16, dtype=torch.float16) for _ in range(3))
    with ringlib.kernel_options(fused_plan=True):
        with torch.no_grad():
            fast = ringlib.attention(q, k, v, pattern)
        assert (forwards, backwards) == ([1], [])
        q.requires_grad_()
        out = ringlib.attention(q, k, v, pattern)
        out.sum().backward()
        assert (forwards, backwards) == ([1, 1], [1])
    torch.testing.assert_close(fast, out.detach(), atol=0, rtol=0)
    with ringlib.kernel_options(fused_plan=False):
        slow = ringlib.attention(q, k, v, pattern)
    assert forwards == [1, 1] and slow.requires_grad
    torch.testing.assert_close(fast, slow.detach(), atol=2e-3, rtol=0)
