"""Every block-sparse backend equals the float64 reference (forward and gradients)."""

import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ringlib
from ringlib.blocksparse import block_mask, flex, sdpa
from ringlib.testing import assert_close_to_reference


@st.composite
def cases(draw):
    bs = draw(st.sampled_from([1, 2, 3, 4, 8]))
    nb = draw(st.integers(1, 6))
    heads = draw(st.integers(1, 3))
    per_head = draw(st.booleans())
    density = draw(st.floats(0.0, 1.0))
    max_count = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    shape = (heads, nb, nb) if per_head else (nb, nb)
    counts = torch.randint(1, max_count + 1, shape, generator=g) * (torch.rand(shape, generator=g) < density)
    layout = counts.bool() if max_count == 1 and draw(st.booleans()) else counts
    tail = draw(st.integers(0, bs - 1)) if draw(st.booleans()) else 0
    pattern = ringlib.BlockSparse(layout, block_size=bs,
                                  normalization=draw(st.sampled_from(["softmax", "per_block_sum"])),
                                  partial_tail="zero" if tail else "error")
    return pattern, nb * bs + tail, heads, draw(st.integers(1, 2)), draw(st.booleans()), seed


def _qkv(batch, n, heads, d, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, n, heads, d, generator=g, dtype=torch.float64).to(dtype).requires_grad_()
            for _ in range(3)]


def _grads(out, inputs, grad):
    return torch.autograd.grad(out, inputs, grad)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_sdpa_equals_reference_float64(case):
    pattern, n, heads, batch, causal, seed = case
    q, k, v = _qkv(batch, n, heads, 8, torch.float64, seed)
    ref = ringlib.attention(q, k, v, pattern, causal=causal, backend="reference")
    out = ringlib.attention(q, k, v, pattern, causal=causal, backend="sdpa")
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)
    grad = torch.randn_like(ref)
    for a, b in zip(_grads(out, (q, k, v), grad), _grads(ref, (q, k, v), grad)):
        assert not a.isnan().any()
        torch.testing.assert_close(a, b, rtol=0, atol=1e-9)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_sdpa_float32_within_flash_rule(case):
    pattern, n, heads, batch, causal, seed = case
    q64, k64, v64 = _qkv(batch, n, heads, 16, torch.float64, seed)
    q32, k32, v32 = (t.detach().float().requires_grad_() for t in (q64, k64, v64))
    ref = ringlib.attention(q64, k64, v64, pattern, causal=causal, backend="reference")
    plain = ringlib.attention(q32, k32, v32, pattern, causal=causal, backend="reference")
    out = ringlib.attention(q32, k32, v32, pattern, causal=causal, backend="sdpa")
    assert_close_to_reference(out, plain, ref)
    grad = torch.randn_like(ref)
    g_ref = _grads(ref, (q64, k64, v64), grad)
    g_plain = _grads(plain, (q32, k32, v32), grad.float())
    g_out = _grads(out, (q32, k32, v32), grad.float())
    for name, a, b, c in zip("qkv", g_out, g_plain, g_ref):
        assert_close_to_reference(a, b, c, what=f"d{name}")


@pytest.fixture
def eager_flex():
    """FlexAttention's eager implementation (CPU has no compiled flex backward)."""
    with warnings.catch_warnings(), ringlib.kernel_options(flex_compile=False):
        warnings.simplefilter("ignore")
        yield


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_flex_mask_mod_equals_reference(eager_flex, case):
    pattern, n, heads, batch, causal, seed = case
    if pattern.normalization != "softmax":
        pattern = ringlib.BlockSparse(pattern.layout, pattern.block_size, partial_tail=pattern.partial_tail)
    q, k, v = (t.detach() for t in _qkv(batch, n, heads, 8, torch.float64, seed))
    ref = ringlib.attention(q, k, v, pattern, causal=causal, backend="reference")
    out = ringlib.attention(q, k, v, pattern, causal=causal, backend="flex")
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(cases(), st.sampled_from([4, 8, 16, 128]))
def test_flex_tile_classification(case, tile):
    """Full tiles hold only allowed token pairs, full + partial tiles hold all of them."""
    pattern, n, heads, _, causal, _ = case
    nb, bs = n // pattern.block_size, pattern.block_size
    active = pattern.counts(nb, heads) > 0
    full, partial = block_mask._tiles(active, nb, bs, n, tile, causal)
    tiles = -(-n // tile)
    token = torch.zeros(active.shape[0], tiles * tile, tiles * tile, dtype=torch.bool)
    token[:, : nb * bs, : nb * bs] = active.repeat_interleave(bs, 1).repeat_interleave(bs, 2)
    if causal:
        token &= torch.ones(tiles * tile, tiles * tile, dtype=torch.bool).tril()
    per_tile = token.view(-1, tiles, tile, tiles, tile)
    assert torch.equal(full, per_tile.all(4).all(2))
    assert torch.equal(full | partial, per_tile.any(4).any(2))
    assert not (full & partial).any()


def test_auto_picks_sdpa_on_cpu_and_flex_serves_softmax_only(monkeypatch):
    calls = []
    monkeypatch.setattr(flex, "attention", lambda *a, **kw: calls.append("flex"))
    pattern = ringlib.BlockSparse(torch.ones(2, 2, dtype=torch.bool), block_size=4)
    q = torch.randn(1, 8, 1, 4)
    ringlib.attention(q, q, q, pattern)
    assert calls == []
    ringlib.attention(q, q, q, pattern, backend="flex")
    assert calls == ["flex"]
    summed = ringlib.BlockSparse(torch.ones(2, 2, dtype=torch.bool), block_size=4, normalization="per_block_sum")
    assert ringlib.attention(q, q, q, summed, backend="flex") is not None  # runs the pairs path
    assert calls == ["flex"]


@pytest.mark.parametrize("softmax", [True, False])
@pytest.mark.parametrize("causal", [False, True])
def test_pair_weight_gradients_match_autograd(softmax, causal):
    """The custom backward (q, k, v and per-pair weights, zero weights included) equals
    autograd through the plain math kernel."""
    g = torch.Generator().manual_seed(0)
    counts = (torch.rand(2, 5, 5, generator=g) < 0.6).int()
    pattern = ringlib.BlockSparse(counts, block_size=4)
    pairs = pattern.pairs(20, 2, causal, "cpu")
    q, k, v = _qkv(2, 20, 2, 8, torch.float64, 1)
    weights = [torch.rand(len(grp.q_slot), generator=g, dtype=torch.float64) * 2 for grp in pairs.groups]
    for w in weights:
        w[::3] = 0.0
        w.requires_grad_()
    kw = dict(block_size=4, layout_heads=2, scale=0.3, softmax=softmax, weights=tuple(weights))
    fused = sdpa.attention(q, k, v, pairs, **kw)
    plain = sdpa.attention(q, k, v, pairs, fused=False, **kw)
    torch.testing.assert_close(fused, plain, rtol=0, atol=1e-12)
    grad = torch.randn_like(plain)
    inputs = (q, k, v, *weights)
    for a, b in zip(_grads(fused, inputs, grad), _grads(plain, inputs, grad)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_chunking_gives_the_same_result():
    pattern = ringlib.BlockSparse("dilated", block_size=4)
    q, k, v = _qkv(2, 64, 2, 8, torch.float64, 3)
    whole = ringlib.attention(q, k, v, pattern, causal=True, backend="sdpa")
    g_whole = _grads(whole, (q, k, v), torch.ones_like(whole))
    assert len(pattern.pairs(64, 2, True, "cpu").chunks(3)) > 4
    with ringlib.kernel_options(pairs_chunk_elements=2 * 4 * 8 * 3):  # ~3 pairs per chunk
        chunked = ringlib.attention(q, k, v, pattern, causal=True, backend="sdpa")
        g_chunked = _grads(chunked, (q, k, v), torch.ones_like(whole))
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-14)
    for a, b in zip(g_chunked, g_whole):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-14)


def test_empty_rows_are_zero_without_nan():
    layout = torch.zeros(2, 4, 4, dtype=torch.bool)
    layout[0, 1, 2] = True  # head 0: one row sees a future block only; head 1: nothing at all
    for norm in ("softmax", "per_block_sum"):
        pattern = ringlib.BlockSparse(layout, block_size=4, normalization=norm)
        q, k, v = _qkv(1, 16, 2, 8, torch.float32, 0)
        for backend in ("reference", "sdpa"):
            out = ringlib.attention(q, k, v, pattern, causal=True, backend=backend)
            assert torch.equal(out, torch.zeros_like(out))
            grads = _grads(out.sum(), (q, k, v), None)
            assert all(torch.equal(g, torch.zeros_like(g)) for g in grads)


def test_dropout_runs_the_math_path_in_expectation():
    pattern = ringlib.BlockSparse("local_window", block_size=8, window_size=24)
    q, k, v = (t.detach() for t in _qkv(1, 64, 1, 8, torch.float64, 0))
    v = torch.ones_like(v)
    torch.manual_seed(0)
    outs = torch.stack([ringlib.attention(q, k, v, pattern, dropout_p=0.5) for _ in range(200)])
    assert not torch.equal(outs[0], outs[1])
    assert (outs.mean(0) - 1).abs().max() < 0.2  # inverted dropout keeps the expectation
