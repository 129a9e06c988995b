"""``ringlib.lse``: every way in (N-way aligned, scattered into rows, weighted, in place)
equals softmax attention over the union of the key sets, computed directly in float64."""

import torch

from ringlib import lse


def _partial(q, k, v):
    """Attention of ``q`` over ``k`` and its log-sum-exp: ``(..., rows, d)``, ``(..., rows)``."""
    s = q @ k.transpose(-1, -2)
    return torch.softmax(s, -1) @ v, torch.logsumexp(s, -1)


def _keys(gen, *shape):
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def test_aligned_combine_and_merge_equal_the_union_softmax():
    gen = torch.Generator().manual_seed(0)
    q = _keys(gen, 2, 3, 5, 4)
    ks = [_keys(gen, 2, 3, n, 4) for n in (3, 7, 1)]
    vs = [_keys(gen, 2, 3, n, 4) for n in (3, 7, 1)]
    union = _partial(q, torch.cat(ks, -2), torch.cat(vs, -2))
    parts = [_partial(q, k, v) for k, v in zip(ks, vs)]
    out, total = lse.combine([o for o, _ in parts], [s for _, s in parts])
    torch.testing.assert_close(out, union[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(total, union[1], rtol=0, atol=1e-12)
    acc_o, acc_l = torch.zeros_like(q), torch.full(q.shape[:-1], float("-inf"), dtype=q.dtype)
    for o, s in parts:
        lse.merge_(acc_o, acc_l, o.clone(), s, consume=True)
    torch.testing.assert_close(acc_o, union[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(acc_l, union[1], rtol=0, atol=1e-12)
    two = lse.merge(*parts[0], *parts[1])
    ref = _partial(q, torch.cat(ks[:2], -2), torch.cat(vs[:2], -2))
    torch.testing.assert_close(two[0], ref[0], rtol=0, atol=1e-12)


def test_scattered_weighted_combine_equals_the_weighted_union():
    """Slots land on rows by index; a weight scales a slot's mass (as if its keys' scores were
    shifted by log w); rows no slot reaches, or whose slots all weigh 0, are 0 / -inf."""
    gen = torch.Generator().manual_seed(1)
    rows, d = 4, 3
    q = _keys(gen, 2, rows, 5, d)
    index = [torch.tensor([0, 2, 2]), torch.tensor([2, 0])]
    weights = [torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64), torch.tensor([0.0, 3.0], dtype=torch.float64)]
    keys = [[_keys(gen, 2, 6, d) for _ in r] for r in index]
    vals = [[_keys(gen, 2, 6, d) for _ in r] for r in index]
    outs, lses = [], []
    for r, ks, vs in zip(index, keys, vals):
        parts = [_partial(q[:, row], k, v) for row, k, v in zip(r.tolist(), ks, vs)]
        outs.append(torch.stack([o for o, _ in parts], 1))
        lses.append(torch.stack([s for _, s in parts], 1))
    out, total = lse.combine(outs, lses, index=index, rows=rows, weights=weights)
    for row in range(rows):
        members = [(w, k, v) for r, ws, ks, vs in zip(index, weights, keys, vals)
                   for i, (w, k, v) in enumerate(zip(ws, ks, vs)) if r[i] == row and w > 0]
        if not members:
            assert torch.equal(out[:, row], torch.zeros_like(out[:, row]))
            assert torch.isneginf(total[:, row]).all()
            continue
        s = torch.cat([q[:, row] @ k.transpose(-1, -2) + torch.log(w) for w, k, _ in members], -1)
        expected = torch.softmax(s, -1) @ torch.cat([v for _, _, v in members], -2)
        torch.testing.assert_close(out[:, row], expected, rtol=0, atol=1e-12)
        torch.testing.assert_close(total[:, row], torch.logsumexp(s, -1), rtol=0, atol=1e-12)


def test_empty_rows_have_no_nan_in_values_or_gradients():
    o = torch.randn(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    s = torch.tensor([[[0.5, float("-inf"), 1.0], [float("-inf")] * 3]], dtype=torch.float64).requires_grad_()
    w = torch.tensor([0.0, 1.0], dtype=torch.float64, requires_grad=True)
    out, total = lse.combine([o], [s], index=[torch.tensor([0, 1])], rows=3, weights=[w])
    assert torch.equal(out, torch.zeros_like(out))  # row 0 weighs 0, row 1 has no mass, row 2 no slot
    assert torch.isneginf(total).all()
    out.sum().backward()
    assert torch.equal(o.grad, torch.zeros_like(o)) and torch.equal(w.grad, torch.zeros_like(w))
    assert not torch.isnan(s.grad).any()
    aligned, aligned_lse = lse.combine([o.detach()[:, :1]] * 2, [s.detach()[:, 1:]] * 2)
    assert torch.equal(aligned, torch.zeros_like(aligned)) and torch.isneginf(aligned_lse).all()
