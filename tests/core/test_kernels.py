"""Pieces of the kernel dispatch that hold on any device."""

import torch

import ringlib
from ringlib.backends.kernels import _matching_layout
from ringlib.plan import plan_flops


def test_matching_layout_orders_dims_like_q_strides_and_packs_them():
    """cuDNN's backward must always see the output in the layout its forward allocates for q
    (dims ordered like q's strides, densely packed): the one layout its graph cache assumes."""
    base = torch.randn(1, 4096, 8, 16)
    q = base.as_strided((2, 3, 1024, 16), (2048 * 128, 16, 256, 1))  # 3 of 8 heads, rate-2 rows
    o = torch.randn(2, 3, 1024, 16)  # contiguous (b, h, rows, d): another layout
    canon = _matching_layout(o, q)
    assert canon.stride() == (3 * 1024 * 16, 16, 3 * 16, 1)  # (b, rows, h, d) packed
    assert torch.equal(canon, o)
    assert _matching_layout(canon, q) is canon  # already in layout: no copy
    assert canon.stride() == torch.empty_like(q).stride()  # what the forward allocates


def test_plan_flops_counts_query_key_pairs():
    pattern = ringlib.Dilated([64, 128], [1, 2])
    # LSE mixing: every head in both branches; 256 tokens -> 4 x 64^2 + 2 x 64^2 pairs per head
    expected = 4.0 * 2 * 16 * 8 * (4 * 64 * 64 + 2 * 64 * 64)
    assert plan_flops(pattern.plan(256, 8), 2, 16) == expected
