"""The modules are ordinary nn.Modules: state_dict, .to(), autocast, torch.compile, eval determinism."""

import torch

import ringlib

PATTERN = ringlib.Dilated([8, 16], [1, 2])


def test_multihead_layout_matches_fused_projection_convention():
    torch.manual_seed(0)
    m = ringlib.MultiheadDilatedAttention(16, 4, PATTERN).double()
    assert list(m.state_dict()) == ["qkv_proj.weight", "qkv_proj.bias", "out_proj.weight", "out_proj.bias"]
    x = torch.randn(2, 32, 16, dtype=torch.float64)
    q, k, v = m.qkv_proj(x).view(2, 32, 3, 4, 4).unbind(2)  # [q | k | v], head-major
    core = ringlib.attention(q, k, v, PATTERN, causal=True).reshape(2, 32, 16)
    torch.testing.assert_close(m(x, is_causal=True), m.out_proj(core))


def test_batch_first_false_and_state_dict_roundtrip():
    a = ringlib.MultiheadDilatedAttention(16, 2, PATTERN, batch_first=False)
    b = ringlib.MultiheadDilatedAttention(16, 2, PATTERN)
    b.load_state_dict(a.state_dict())
    x = torch.randn(3, 32, 16)
    torch.testing.assert_close(a(x.transpose(0, 1)).transpose(0, 1), b(x))


def test_to_dtype_autocast_and_eval_determinism():
    m = ringlib.MultiheadDilatedAttention(16, 2, PATTERN, dropout=0.3, output_dropout=0.3)
    x = torch.randn(2, 32, 16)
    m.eval()
    torch.testing.assert_close(m(x), m(x))
    m.train()
    assert not torch.equal(m(x), m(x))
    m.eval()
    assert m.to(torch.float64)(x.double()).dtype == torch.float64
    m.float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = m(x)
    assert y.dtype == torch.bfloat16
    assert (y.float() - m(x)).abs().max() < 0.1


def test_torch_compile_fullgraph_forward_and_backward():
    m = ringlib.MultiheadDilatedAttention(16, 4, ringlib.Dilated([8, 16], [1, 2]), ordering="hilbert")
    compiled = torch.compile(m, fullgraph=True)
    x = torch.randn(2, 32, 16, requires_grad=True)
    out, ref = compiled(x, is_causal=True), m(x, is_causal=True)
    torch.testing.assert_close(out, ref)
    (g_out,) = torch.autograd.grad(out.sum(), x)
    (g_ref,) = torch.autograd.grad(ref.sum(), x)
    torch.testing.assert_close(g_out, g_ref)


def test_dilated_attention_module_matches_functional():
    m = ringlib.DilatedAttention(PATTERN, ordering="snake", scale=0.2)
    q, k, v = (torch.randn(1, 32, 3, 8) for _ in range(3))
    torch.testing.assert_close(m(q, k, v, is_causal=True),
                               ringlib.attention(q, k, v, PATTERN, causal=True, scale=0.2, ordering="snake"))


def test_torch_compile_with_lanes_folded_into_heads():
    """A sum plan whose residue lanes share the heads dimension (packed q, k, v): the compiled
    graph's saved outputs (shapes from the fake implementation) match the eager run's."""
    from ringlib import compat

    m = ringlib.DilatedAttention(compat.Regions([8, 16] * 2, [1, 2] * 2))
    compiled = torch.compile(m, fullgraph=True, dynamic=False)
    q, k, v = (torch.randn(2, 48, 4, 8, requires_grad=True) for _ in range(3))
    out, ref = compiled(q, k, v), m(q, k, v)
    torch.testing.assert_close(out, ref)
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    grads_ref = torch.autograd.grad(ref.square().sum(), (q, k, v))
    for g, r in zip(grads, grads_ref):
        torch.testing.assert_close(g, r)


def _separate(m, query, key, value, causal):
    """MultiheadAttention written out by hand from its documented parts."""
    q, k, v = m.q_proj(query), m.k_proj(key), m.v_proj(value)
    if m.q_norm is not None:
        q, k = m.q_norm(q), m.k_norm(k)
    b, n, e = query.shape
    split = lambda t: t.view(b, n, m.num_heads, e // m.num_heads)  # noqa: E731
    out = ringlib.attention(split(q), split(k), split(v), m.pattern, causal=causal).reshape(b, n, e)
    return m.out_proj(out if m.out_norm is None else m.out_norm(out))


def test_separate_projections_on_query_key_value():
    torch.manual_seed(0)
    m = ringlib.MultiheadAttention(16, 4, PATTERN, qk_norm=True, out_norm=True, norm_eps=1e-6).double()
    assert list(m.state_dict()) == [f"{p}.{w}" for p in ("q_proj", "k_proj", "v_proj", "out_proj", "q_norm",
                                                           "k_norm", "out_norm") for w in ("weight", "bias")]
    assert m.q_norm.eps == 1e-6
    for p in m.parameters():  # LayerNorms start at identity: make them count
        torch.nn.init.normal_(p)
    query, key, value = (torch.randn(2, 32, 16, dtype=torch.float64) for _ in range(3))
    torch.testing.assert_close(m(query, key, value, is_causal=True), _separate(m, query, key, value, True))
    torch.testing.assert_close(m(query), _separate(m, query, query, query, False))  # self-attention default
    plain = ringlib.MultiheadAttention(16, 4, PATTERN, bias=False)
    assert list(plain.state_dict()) == [f"{p}.weight" for p in ("q_proj", "k_proj", "v_proj", "out_proj")]


def test_separate_projections_equal_the_fused_module_on_the_same_weights():
    torch.manual_seed(0)
    fused = ringlib.MultiheadDilatedAttention(16, 2, PATTERN)
    sep = ringlib.MultiheadAttention(16, 2, PATTERN, batch_first=False)
    w, b = fused.qkv_proj.weight.detach(), fused.qkv_proj.bias.detach()
    sep.load_state_dict({"q_proj.weight": w[:16], "k_proj.weight": w[16:32], "v_proj.weight": w[32:],
                         "q_proj.bias": b[:16], "k_proj.bias": b[16:32], "v_proj.bias": b[32:],
                         "out_proj.weight": fused.out_proj.weight, "out_proj.bias": fused.out_proj.bias})
    x = torch.randn(2, 32, 16)
    torch.testing.assert_close(sep(x.transpose(0, 1)).transpose(0, 1), fused(x))


def test_separate_projections_name_bad_arguments():
    import pytest

    with pytest.raises(ValueError, match="norm_eps"):
        ringlib.MultiheadAttention(16, 2, PATTERN, norm_eps=0)
    with pytest.raises(ValueError, match="divisible"):
        ringlib.MultiheadAttention(16, 3, PATTERN)
    m = ringlib.MultiheadAttention(16, 2, PATTERN)
    x = torch.randn(2, 32, 16)
    with pytest.raises(ValueError, match="key and value"):
        m(x, x, torch.randn(2, 16, 16))
    with pytest.raises(ValueError, match="value must have shape"):
        m(x, x, torch.randn(2, 32, 8))
    with pytest.raises(TypeError, match="query"):
        m(x.long())
