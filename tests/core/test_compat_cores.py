"""The attention cores of ringlib.compat: HeadAxis against its definition written out naively,
SegmentsPerCall's choice and reuse, FitSegments' rule, and clear errors for bad arguments."""

import pytest
import torch

import ringlib
from ringlib.compat import FitSegments, HeadAxis, SegmentsPerCall
from ringlib.testing import assert_close_to_reference


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def head_axis_definition(q, k, v, segment_lengths, dilation_rates, causal=False):
    """Per group, per segment, per selected row: softmax attention among the heads of the group."""
    b, n, h, d = q.shape
    g = len(segment_lengths)
    sizes = [h // g + (1 if i < h % g else 0) for i in range(g)]
    out = torch.zeros_like(q)
    first = 0
    for i, (s, r) in enumerate(zip(segment_lengths, dilation_rates)):
        heads = list(range(first, first + sizes[i]))
        first += sizes[i]
        if not heads:
            continue
        for start in range(0, n, s):
            for p in range(start, min(start + s, n)):
                if (p - start) % r != i % r:
                    continue
                for bi in range(b):
                    qs, ks, vs = q[bi, p, heads], k[bi, p, heads], v[bi, p, heads]  # (heads, d)
                    scores = qs @ ks.T * d ** -0.5
                    if causal:
                        scores = scores.masked_fill(torch.ones_like(scores, dtype=torch.bool).triu(1), float("-inf"))
                    out[bi, p, heads] = torch.softmax(scores, dim=-1) @ vs
    return out / g


CONFIGS = [  # (n, heads, segment_lengths, dilation_rates)
    (32, 4, (8, 16), (1, 2)),
    (24, 5, (8, 16), (2, 4)),  # unequal groups (3 + 2); 24 is no multiple of 16: a shorter last segment
    (16, 2, (4, 8, 16), (1, 2, 4)),  # fewer heads than groups: the third group is empty
    (16, 6, (16,), (1,)),  # one group: every head of every position
]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n,h,segs,rates", CONFIGS)
def test_head_axis_is_its_definition(n, h, segs, rates, causal):
    q, k, v = (_rand(1, n, h, 8, seed=i) for i in range(3))
    exact = head_axis_definition(q, k, v, segs, rates, causal)
    core = HeadAxis(segs, rates)
    ref = ringlib.attention(q, k, v, core, causal=causal, backend="reference")
    assert (ref - exact).abs().max() < 1e-12
    tested = ringlib.attention(*(t.float() for t in (q, k, v)), core, causal=causal)
    plain = head_axis_definition(*(t.float() for t in (q, k, v)), segs, rates, causal)
    assert_close_to_reference(tested, plain, exact)
    if max(rates) > 1:
        assert (exact == 0).any(), "no row left out: the test would not see a wrong selection"


def test_head_axis_mixes_heads_and_only_on_selected_rows():
    q, k, v = (_rand(1, 16, 4, 8, seed=i) for i in range(3))
    core = HeadAxis((8, 16), (1, 2))
    out = ringlib.attention(q, k, v, core, backend="reference")
    v2 = v.clone()
    v2[:, 3, 1] += 1.0  # position 3, head 1 (group 0: every row of its segments)
    changed = (ringlib.attention(q, k, v2, core, backend="reference") - out).abs().amax(dim=-1)[0] > 0
    assert changed[3, 0] and changed[3, 1] and not changed[3, 2:].any(), "the other head of the group sees it"
    assert changed.sum() == 2, "no other position or group sees it"
    v3 = v.clone()
    v3[:, 2, 3] += 1.0  # group 1 (heads 2, 3) selects rows 1, 3, 5, ... (offset 1 % 2): row 2 is not selected
    assert torch.equal(ringlib.attention(q, k, v3, core, backend="reference"), out)


def test_head_axis_in_the_modules_and_gradients():
    q, k, v = (_rand(1, 16, 5, 4, seed=i).requires_grad_() for i in range(3))
    grad = _rand(1, 16, 5, 4, seed=9)
    module = ringlib.DilatedAttention(HeadAxis((8, 16), (1, 2)), backend="reference")
    got = torch.autograd.grad(module(q, k, v, is_causal=True), (q, k, v), grad)
    want = torch.autograd.grad(head_axis_definition(q, k, v, (8, 16), (1, 2), True), (q, k, v), grad)
    for name, a, b in zip("qkv", got, want):
        assert (a - b).abs().max() < 1e-12, name
    assert got[2].abs().sum() > 0
    mha = ringlib.MultiheadAttention(16, 4, HeadAxis((8, 16), (1, 2)), out_norm=True)
    assert mha(torch.randn(2, 16, 16)).shape == (2, 16, 16)


def test_head_axis_bad_arguments():
    with pytest.raises(ValueError, match="segment_lengths"):
        HeadAxis((8, 0), (1, 2))
    with pytest.raises(ValueError):
        HeadAxis((8, 16), (1,))
    q = torch.randn(1, 16, 4, 8)
    with pytest.raises(ValueError, match="ordering"):
        ringlib.attention(q, q, q, HeadAxis((8,), (1,)), ordering="snake")
    with pytest.raises(TypeError, match="attention core"):
        ringlib.attention(q, q, q, object())
    with pytest.raises(TypeError, match="pattern"):
        ringlib.DilatedAttention("dense")
    with pytest.raises(ValueError, match="same sequence length"):
        ringlib.attention(q, q[:, :8], q[:, :8], HeadAxis((8,), (1,)))


# ------------------------------------------------------------------------------------------
# FitSegments: the rule


def _peak(lengths, b, h, d, itemsize):
    s = max(lengths)
    return 1.2 * (4 * b * s * h * d + b * s * s * h) * itemsize / 1e9


@pytest.mark.parametrize("n", [1, 64, 100, 512, 1000, 3000, 8192, 20000, 70000])
def test_fit_segments_without_device_memory_takes_one_segment(n):
    lengths, rates = FitSegments().rule(n, 2, 8, 64, 4, free_bytes=0, block=32)
    expected = min(512, n)
    while n % expected:
        expected -= 1
    assert (lengths, rates) == ([expected], [1])


@pytest.mark.parametrize("n", [256, 1000, 4096, 12288, 65536])
@pytest.mark.parametrize("free_gb", [2, 16, 80])
def test_fit_segments_with_memory_fits_and_tiles(n, free_gb):
    policy = FitSegments(max_segment_size=8192)
    lengths, rates = policy.rule(n, 1, 8, 64, 2, free_bytes=int(free_gb * 1e9), block=128)
    assert rates == [2 ** i for i in range(len(lengths))]
    assert n % max(lengths) == 0 and all(0 < s <= min(n, 8192) for s in lengths)
    assert len(lengths) <= policy.max_segments
    if lengths != [min(512, n)]:  # a candidate won: it fits the room
        assert _peak(lengths, 1, 8, 64, 2) <= free_gb * 0.8 - 0.5


def test_fit_segments_prefers_covering_the_sequence():
    lengths, _ = FitSegments().rule(4096, 1, 8, 64, 2, free_bytes=int(80e9), block=256)
    assert max(lengths) == 4096  # plenty of memory: the ladder reaches the whole sequence


def test_fit_segments_bad_arguments():
    for kwargs in ({"min_segment_size": 0}, {"max_segment_size": 1.5}, {"max_segments": True},
                   {"memory_fraction": 0}, {"memory_fraction": 2}, {"reserve_gb": -1}):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            FitSegments(**kwargs)
    with pytest.raises(ValueError, match="n must be"):
        FitSegments().rule(0, 1, 1, 1, 4, 0, 32)


# ------------------------------------------------------------------------------------------
# SegmentsPerCall


def test_segments_per_call_chooses_keeps_and_rechooses():
    calls = []

    def choose(n, q):
        calls.append(n)
        return [n // 2, n], [1, 2]

    core = SegmentsPerCall(choose)
    q = _rand(1, 32, 4, 8)
    out = ringlib.attention(q, q, q, core, backend="reference")
    assert core.current == ((16, 32), (1, 2))
    assert torch.equal(out, ringlib.attention(q, q, q, HeadAxis((16, 32), (1, 2)), backend="reference"))
    q64 = _rand(1, 64, 4, 8)
    ringlib.attention(q64, q64, q64, core, backend="reference")
    assert calls == [32] and core.current == ((16, 32), (1, 2)), "64 is a multiple of 32: the choice is kept"
    q48 = _rand(1, 48, 4, 8)
    ringlib.attention(q48, q48, q48, core, backend="reference")
    assert calls == [32, 48] and core.current == ((24, 48), (1, 2))
    core.clear()
    assert core.current is None


def test_segments_per_call_default_on_cpu_is_one_head_axis_segment():
    q, k, v = (_rand(2, 48, 4, 8, seed=i).float() for i in range(3))
    core = SegmentsPerCall()
    out = ringlib.attention(q, k, v, core)
    assert core.current == ((48,), (1,))
    assert torch.equal(out, ringlib.attention(q, k, v, HeadAxis((48,), (1,)))), "same call, same numbers"


def test_segments_per_call_bad_arguments():
    with pytest.raises(TypeError, match="choose"):
        SegmentsPerCall(choose=3)
    with pytest.raises(TypeError, match="core"):
        SegmentsPerCall(core="HeadAxis")
    q = torch.randn(1, 16, 4, 8)
    with pytest.raises(TypeError, match="must build a ringlib pattern"):
        ringlib.attention(q, q, q, SegmentsPerCall(core=lambda s, r: (s, r)))
