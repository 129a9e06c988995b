"""The strided ``sdpa`` backend equals the float64 reference over randomised configurations."""

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ringlib
from ringlib import compat
from ringlib.testing import assert_close_to_reference

ORDERINGS = [None, "hilbert", "snake", lambda m: list(reversed(range(m)))]


@st.composite
def configs(draw):
    g = draw(st.integers(1, 4))
    segments = draw(st.lists(st.integers(16, 1024), min_size=g, max_size=g))
    rates = draw(st.lists(st.integers(1, 8), min_size=g, max_size=g))
    mixing = draw(st.sampled_from(["lse", "head_groups"]))
    n = draw(st.integers(8, 160))
    heads = draw(st.integers(1, 7))
    batch = draw(st.integers(1, 3))
    causal = draw(st.booleans())
    ordering = draw(st.sampled_from(ORDERINGS))
    return ringlib.Dilated(segments, rates, mixing=mixing), n, heads, batch, causal, ordering


def _qkv(batch, n, heads, d, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, n, heads, d, generator=g, dtype=torch.float64).to(dtype).requires_grad_()
            for _ in range(3)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_sdpa_equals_reference_float64(config):
    pattern, n, heads, batch, causal, ordering = config
    q, k, v = _qkv(batch, n, heads, 8, torch.float64)
    ref = ringlib.attention(q, k, v, pattern, causal=causal, ordering=ordering, backend="reference")
    out = ringlib.attention(q, k, v, pattern, causal=causal, ordering=ordering, backend="sdpa")
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)
    grad = torch.randn_like(ref)
    for a, b in zip(torch.autograd.grad(out, (q, k, v), grad), torch.autograd.grad(ref, (q, k, v), grad)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-9)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_sdpa_float32_within_flash_rule(config):
    pattern, n, heads, batch, causal, ordering = config
    q64, k64, v64 = _qkv(batch, n, heads, 16, torch.float64, seed=1)
    q32, k32, v32 = (t.detach().float().requires_grad_() for t in (q64, k64, v64))
    ref = ringlib.attention(q64, k64, v64, pattern, causal=causal, ordering=ordering, backend="reference")
    plain = ringlib.attention(q32, k32, v32, pattern, causal=causal, ordering=ordering, backend="reference")
    out = ringlib.attention(q32, k32, v32, pattern, causal=causal, ordering=ordering, backend="sdpa")
    assert_close_to_reference(out, plain, ref)
    grad = torch.randn_like(ref)
    g_ref = torch.autograd.grad(ref, (q64, k64, v64), grad)
    g_plain = torch.autograd.grad(plain, (q32, k32, v32), grad.float())
    g_out = torch.autograd.grad(out, (q32, k32, v32), grad.float())
    for name, a, p, r in zip("qkv", g_out, g_plain, g_ref):
        assert_close_to_reference(a, p, r, what=f"d{name}")


COMPAT = [
    compat.Regions([24, 40, 16], [2, 3, 1]),
    compat.FirstSegment([32, 48], [1, 3], variant="v3"),
    compat.FirstSegment([32, 48], [1, 3], variant="sdpa"),
    compat.StridedKeys([24, 40], [2, 3]),
    ringlib.Dense(),
]


def test_compat_patterns_sdpa_equals_reference():
    for pattern in COMPAT:
        for causal in (False, True):
            for ordering in (None, "snake", compat.curve_b, "hilbert"):
                q, k, v = _qkv(2, 101, 5, 8, torch.float64, seed=3)
                ref = ringlib.attention(q, k, v, pattern, causal=causal, ordering=ordering, backend="reference")
                out = ringlib.attention(q, k, v, pattern, causal=causal, ordering=ordering, backend="sdpa")
                torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)
                g = torch.randn_like(ref)
                for a, b in zip(torch.autograd.grad(out, (q, k, v), g), torch.autograd.grad(ref, (q, k, v), g)):
                    torch.testing.assert_close(a, b, rtol=0, atol=1e-9)


def test_gradcheck_both_backends():
    q, k, v = _qkv(1, 13, 3, 2, torch.float64, seed=4)
    for pattern in (ringlib.Dilated([4, 9], [1, 3]), ringlib.Dilated([6, 13], [2, 1], mixing="head_groups"),
                    compat.Regions([5, 7], [2, 3])):
        for backend in ("sdpa", "reference"):
            for ordering in (None, "hilbert"):
                fn = lambda a, b, c: ringlib.attention(a, b, c, pattern, causal=True, ordering=ordering,  # noqa: E731
                                                       backend=backend)
                assert torch.autograd.gradcheck(fn, (q, k, v))


def test_dropout_path_is_exact_without_dropout_and_random_with_it():
    from ringlib.backends import strided

    pattern = ringlib.Dilated([16, 32], [1, 2])
    q, k, v = _qkv(2, 64, 4, 8, torch.float64, seed=5)
    plan = pattern.plan(64, 4)
    math_out, _, _ = strided.run_forward(q, k, v, plan, 0.3, True, "hilbert", 0.0, fused=False)
    fused = ringlib.attention(q, k, v, pattern, causal=True, scale=0.3, ordering="hilbert")
    torch.testing.assert_close(math_out, fused, rtol=0, atol=1e-12)
    torch.manual_seed(0)
    dropped = ringlib.attention(q, k, v, pattern, dropout_p=0.5)
    assert (dropped - ringlib.attention(q, k, v, pattern)).abs().max() > 1e-3
    dropped.sum().backward()
    assert torch.isfinite(q.grad).all()
