"""BlockSparse as a pattern: validation, hashing by value, callables, tails, modules."""

import pytest
import torch

import ringlib
from ringlib.blocksparse import dilated


def _x(n, heads=2, d=4, batch=1, dtype=torch.float64):
    return torch.randn(batch, n, heads, d, dtype=dtype)


def test_sequence_not_divisible_names_both_numbers():
    q = _x(20)
    with pytest.raises(ValueError, match=r"sequence length 20 must be divisible by block_size 8"):
        ringlib.attention(q, q, q, ringlib.BlockSparse("dilated", block_size=8))
    with pytest.raises(ValueError, match="shorter than one block"):
        ringlib.attention(q, q, q, ringlib.BlockSparse("dilated", block_size=32, partial_tail="zero"))


@pytest.mark.parametrize("layout, error, match", [
    (torch.ones(3, 3), TypeError, "bool or integer"),
    (torch.ones(2, 3, dtype=torch.bool), ValueError, r"\[nb, nb\]"),
    (-torch.ones(3, 3, dtype=torch.int64), ValueError, ">= 0"),
    ([[1, 0], [0, 1]], TypeError, "layout must be"),
])
def test_bad_layouts(layout, error, match):
    with pytest.raises(error, match=match):
        ringlib.BlockSparse(layout, block_size=4)


def test_layout_must_fit_the_sequence_and_heads():
    q = _x(16, heads=3)
    with pytest.raises(ValueError, match="3 blocks per side, but the sequence has 4 blocks"):
        ringlib.attention(q, q, q, ringlib.BlockSparse(torch.ones(3, 3, dtype=torch.bool), block_size=4))
    with pytest.raises(ValueError, match="has 2 heads, expected 1 or 3"):
        ringlib.attention(q, q, q, ringlib.BlockSparse(torch.ones(2, 4, 4, dtype=torch.bool), block_size=4))
    with pytest.raises(ValueError, match="ordering"):
        ringlib.attention(q, q, q, ringlib.BlockSparse("dilated", block_size=4), ordering="hilbert")
    with pytest.raises(ValueError, match="normalization"):
        ringlib.BlockSparse("dilated", normalization="sum")
    with pytest.raises(TypeError, match="only accepted with a named layout"):
        ringlib.BlockSparse(torch.ones(2, 2, dtype=torch.bool), window_size=3)


def test_patterns_hash_and_compare_by_value():
    a = ringlib.BlockSparse(torch.eye(4, dtype=torch.bool), block_size=4)
    b = ringlib.BlockSparse(torch.eye(4, dtype=torch.int64), block_size=4)
    c = ringlib.BlockSparse(torch.eye(4, dtype=torch.int64) * 2, block_size=4)
    assert a == b and hash(a) == hash(b) and a != c
    assert ringlib.BlockSparse("local_window", block_size=64) == ringlib.BlockSparse(
        ringlib.blocksparse.local_window(256, 64), block_size=64)
    assert ringlib.BlockSparse("dilated_sparse") == ringlib.BlockSparse("dilated")
    assert "sha1=" in repr(a) and len(repr(a)) < 200


def test_callable_layout_and_named_generator_agree():
    def band(nb, heads):
        i = torch.arange(nb)
        return (i[:, None] - i[None, :]).abs() <= 1

    q, k, v = _x(32), _x(32), _x(32)
    named = ringlib.BlockSparse("local_window", block_size=4, window_size=12)
    a = ringlib.attention(q, k, v, ringlib.BlockSparse(band, block_size=4), causal=True)
    torch.testing.assert_close(a, ringlib.attention(q, k, v, named, causal=True), rtol=0, atol=0)


def test_multiplicity_counts_under_per_block_sum_only():
    q, k, v = _x(16), _x(16), _x(16)
    once = torch.eye(4, dtype=torch.int64)
    out1 = ringlib.attention(q, k, v, ringlib.BlockSparse(once, 4, "per_block_sum"))
    out2 = ringlib.attention(q, k, v, ringlib.BlockSparse(2 * once, 4, "per_block_sum"))
    torch.testing.assert_close(out2, 2 * out1)
    soft1 = ringlib.attention(q, k, v, ringlib.BlockSparse(once, 4))
    soft2 = ringlib.attention(q, k, v, ringlib.BlockSparse(2 * once, 4))
    torch.testing.assert_close(soft1, soft2)
    torch.testing.assert_close(soft1, out1)  # one pair per row: both normalizations agree


def test_softmax_is_masked_attention():
    layout = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 1]], dtype=torch.bool)
    q, k, v = _x(12), _x(12), _x(12)
    out = ringlib.attention(q, k, v, ringlib.BlockSparse(layout, 4), causal=True)
    allowed = layout.repeat_interleave(4, 0).repeat_interleave(4, 1) & torch.ones(12, 12, dtype=torch.bool).tril()
    expected = torch.nn.functional.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=allowed).transpose(1, 2)
    torch.testing.assert_close(out, expected)


def test_partial_tail_zero():
    pattern = ringlib.BlockSparse(dilated(), block_size=4, normalization="per_block_sum", partial_tail="zero")
    q, k, v = (_x(19).requires_grad_() for _ in range(3))
    out = ringlib.attention(q, k, v, pattern)
    assert torch.equal(out[:, 16:], torch.zeros_like(out[:, 16:]))
    whole = ringlib.attention(q[:, :16], k[:, :16], v[:, :16], pattern)
    torch.testing.assert_close(out[:, :16], whole, rtol=0, atol=0)
    out.sum().backward()
    for t in (q, k, v):
        assert torch.equal(t.grad[:, 16:], torch.zeros_like(t.grad[:, 16:]))


def test_in_modules():
    torch.manual_seed(0)
    pattern = ringlib.BlockSparse("local_window", block_size=8, window_size=24)
    m = ringlib.MultiheadDilatedAttention(16, 2, pattern).double()
    x = torch.randn(2, 32, 16, dtype=torch.float64, requires_grad=True)
    y = m(x, is_causal=True)
    q, k, v = m.qkv_proj(x).view(2, 32, 3, 2, 8).unbind(2)
    ref = ringlib.attention(q, k, v, pattern, causal=True, backend="reference").reshape(2, 32, 16)
    torch.testing.assert_close(y, m.out_proj(ref))
    y.sum().backward()
    assert x.grad is not None and not x.grad.isnan().any()
