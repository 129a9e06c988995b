"""Seeded dropout by position (``ringlib.dropout``): a pure function of (seed, batch, head,
query position, key position), so any tiling of the (query, key) plane draws the same mask."""

from __future__ import annotations

import pytest
import torch

import ringlib
from ringlib import dropout


def _keep(seed, b, heads, rows, keys, p):
    return dropout.keep(seed, b, torch.tensor(heads), torch.tensor(rows), torch.tensor(keys), p)


def test_mask_depends_on_positions_only():
    full = _keep(5, 2, [0, 1, 2], list(range(40)), list(range(40)), 0.3)
    tile = _keep(5, 2, [2, 0], [7, 3, 30], [39, 0, 11, 12], 0.3)
    assert torch.equal(tile, full[:, [2, 0]][:, :, [7, 3, 30]][:, :, :, [39, 0, 11, 12]])
    assert not torch.equal(full, _keep(6, 2, [0, 1, 2], list(range(40)), list(range(40)), 0.3))
    # batch entries and heads get their own masks
    assert not torch.equal(full[0], full[1]) and not torch.equal(full[:, 0], full[:, 1])


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_drop_rate_is_p(p):
    kept = _keep(2**40 + 1, 4, list(range(4)), list(range(128)), list(range(128)), p)
    # 262144 Bernoulli draws: the kept fraction is within 5 standard deviations of 1 - p
    assert abs(kept.double().mean().item() - (1 - p)) < 5 * (p * (1 - p) / kept.numel()) ** 0.5


def test_seeded_single_process_is_reproducible_and_unbiased_in_expectation():
    q, k, v = (torch.randn(1, 16, 2, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(i))
               for i in range(3))
    pattern = ringlib.Dilated([8, 16], [1, 2])
    a = ringlib.attention(q, k, v, pattern, dropout_p=0.2, dropout_seed=1)
    assert torch.equal(a, ringlib.attention(q, k, v, pattern, dropout_p=0.2, dropout_seed=1))
    assert not torch.allclose(a, ringlib.attention(q, k, v, pattern, dropout_p=0.2, dropout_seed=2))
    plain = ringlib.attention(q, k, v, pattern)
    mean = torch.stack([ringlib.attention(q, k, v, pattern, dropout_p=0.2, dropout_seed=s)
                        for s in range(400)]).mean(0)
    assert (mean - plain).abs().max() < 0.1 < (a - plain).abs().max()
    # without dropout a seed changes nothing
    assert torch.equal(ringlib.attention(q, k, v, pattern, dropout_seed=4), plain)


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (2**63, ValueError), (1.0, TypeError),
                                          (True, TypeError)])
def test_bad_seed_names_the_argument(seed, error):
    q = torch.randn(1, 8, 1, 4)
    with pytest.raises(error, match="dropout_seed"):
        ringlib.attention(q, q, q, ringlib.Dense(), dropout_p=0.1, dropout_seed=seed)
