"""The patterns compute exactly the definitions of the foundation issue, written out naively."""

import math

import torch

import ringlib


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _softmax_attend(q, k, v, scale):
    return torch.softmax(q @ k.T * scale, dim=-1) @ v


def old_dilated_attention(q, k, v, segment_lengths, dilation_rates):
    """The old package's base ``DilatedAttention`` (head groups), one segment at a time."""
    b, n, h, d = q.shape
    g = len(segment_lengths)
    sizes = [h // g + (1 if i < h % g else 0) for i in range(g)]
    out = torch.zeros_like(q)
    first = 0
    for i, (w, r) in enumerate(zip(segment_lengths, dilation_rates)):
        heads = range(first, first + sizes[i])
        first += sizes[i]
        w = min(w, n)
        for start in range(0, n, w):
            rows = [p for p in range(start, min(start + w, n)) if (p - start) % r == i % r]
            for bi in range(b):
                for hh in heads:
                    out[bi, rows, hh] = _softmax_attend(q[bi, rows, hh], k[bi, rows, hh], v[bi, rows, hh],
                                                        d ** -0.5)
    return out / g


def longnet(q, k, v, segment_lengths, dilation_rates):
    """LongNet eq. 10, per (position, head): softmax over the multiset union of the keys of
    every pattern that selects the position (offset h mod r_i)."""
    b, n, h, d = q.shape
    out = torch.zeros_like(q)
    for bi in range(b):
        for hh in range(h):
            for p in range(n):
                keys = []
                for w, r in zip(segment_lengths, dilation_rates):
                    w = min(w, n)
                    start = p // w * w
                    if (p - start) % r == hh % r:
                        keys += [j for j in range(start, min(start + w, n)) if (j - start) % r == hh % r]
                if keys:
                    out[bi, p, hh] = _softmax_attend(q[bi, p:p + 1, hh], k[bi, keys, hh], v[bi, keys, hh],
                                                     d ** -0.5)[0]
    return out


def test_head_groups_reproduces_old_dilated_attention():
    for segs, rates, n, h in [([8, 16], [1, 2], 32, 4), ([8, 16, 64], [1, 2, 4], 40, 5), ([5, 12], [3, 2], 29, 1)]:
        q, k, v = (_rand(2, n, h, 4, seed=s) for s in range(3))
        expected = old_dilated_attention(q, k, v, segs, rates)
        for backend in ("reference", "sdpa"):
            got = ringlib.attention(q, k, v, ringlib.Dilated(segs, rates, mixing="head_groups"), backend=backend)
            torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)


def test_lse_mixing_is_longnet_union_softmax():
    for segs, rates, n, h in [([8, 16], [1, 2], 32, 4), ([6, 20], [2, 4], 23, 3)]:
        q, k, v = (_rand(1, n, h, 4, seed=10 + s) for s in range(3))
        expected = longnet(q, k, v, segs, rates)
        for backend in ("reference", "sdpa"):
            got = ringlib.attention(q, k, v, ringlib.Dilated(segs, rates), backend=backend)
            torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)


def test_uncovered_positions_output_zero_without_nan():
    # every rate > 1 and a single head offset: odd positions are covered by no pattern
    q, k, v = (_rand(1, 16, 1, 4, seed=s).requires_grad_() for s in range(3))
    for backend in ("reference", "sdpa"):
        out = ringlib.attention(q, k, v, ringlib.Dilated([8, 16], [2, 2]), causal=True, backend=backend)
        assert torch.isfinite(out).all()
        assert out[0, 1::2].abs().max() == 0
        assert out[0, 0::2].abs().min() > 0
        out.sum().backward()
        assert all(torch.isfinite(t.grad).all() for t in (q, k, v))
        for t in (q, k, v):
            t.grad = None


def test_segment_longer_than_sequence_and_short_last_segment():
    q, k, v = (_rand(1, 10, 2, 4, seed=s) for s in range(3))
    # w >= n: one segment [0, n) -> dense attention with rate 1
    dense = ringlib.attention(q, k, v, ringlib.Dense())
    torch.testing.assert_close(ringlib.attention(q, k, v, ringlib.Dilated([64], [1])), dense)
    # n = 10, w = 4: segments [0,4) [4,8) [8,10); the last one is shorter, offsets count from 8
    out = ringlib.attention(q, k, v, ringlib.Dilated([4], [1]))
    last = _softmax_attend(q[0, 8:, 0], k[0, 8:, 0], v[0, 8:, 0], 0.5)
    torch.testing.assert_close(out[0, 8:, 0], last)


def test_causal_uses_original_positions_under_orderings():
    q, k, v = (_rand(1, 70, 2, 4, seed=s).requires_grad_() for s in range(3))
    pattern = ringlib.Dilated([70], [1])
    for ordering in ("hilbert", "snake"):
        out = ringlib.attention(q, k, v, pattern, causal=True, ordering=ordering)
        out[0, 20].sum().backward()
        assert k.grad[0, 21:].abs().max() == 0 and v.grad[0, 21:].abs().max() == 0
        assert k.grad[0, :21].abs().max() > 0
        for t in (q, k, v):
            t.grad = None
        torch.testing.assert_close(out, ringlib.attention(q, k, v, pattern, causal=True))


def test_hilbert_ordering_is_a_true_hilbert_curve():
    from ringlib.orderings import hilbert, snake

    order = hilbert(16)  # 4x4 grid, row-major cells
    assert sorted(order) == list(range(16))
    for a, b in zip(order, order[1:]):  # consecutive cells are grid neighbours
        assert abs(a // 4 - b // 4) + abs(a % 4 - b % 4) == 1
    assert order[0] == 0 and order[-1] == 3
    assert sorted(hilbert(10)) == list(range(10))
    assert snake(65)[:20] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 17, 16, 15, 14, 13, 12, 11, 10, 9, 18, 19]
    assert snake(65)[-3:] == [62, 64, 63] and snake(64) == list(range(64))
    s = snake(512)
    assert s[23:26] == [45, 44, 43] and s[-6:] == list(range(506, 512))


def test_scale_default_is_inverse_sqrt_head_dim():
    q, k, v = (_rand(1, 12, 2, 9, seed=s) for s in range(3))
    pattern = ringlib.Dilated([4, 12], [1, 2])
    torch.testing.assert_close(ringlib.attention(q, k, v, pattern),
                               ringlib.attention(q, k, v, pattern, scale=1 / math.sqrt(9)))
