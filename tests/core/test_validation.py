"""Every bad input raises a clear error naming the argument and the rule."""

import pytest
import torch

import ringlib

PATTERN = ringlib.Dilated([8], [1])


def _t(*shape, dtype=torch.float32):
    return torch.zeros(*shape, dtype=dtype)


@pytest.mark.parametrize(
    "q, k, v, error, match",
    [
        (_t(2, 8, 4), _t(2, 8, 4), _t(2, 8, 4), ValueError, "q must have shape"),
        (_t(2, 8, 2, 4), _t(2, 8, 2, 4, 1), _t(2, 8, 2, 4), ValueError, "k must have shape"),
        (_t(2, 8, 2, 4), _t(3, 8, 2, 4), _t(3, 8, 2, 4), ValueError, "equal batch"),
        (_t(2, 8, 2, 4), _t(2, 8, 3, 4), _t(2, 8, 3, 4), ValueError, "equal heads"),
        (_t(2, 8, 2, 4), _t(2, 8, 2, 5), _t(2, 8, 2, 4), ValueError, "equal head_dim"),
        (_t(2, 8, 2, 4), _t(2, 8, 2, 4, dtype=torch.float64), _t(2, 8, 2, 4), TypeError, "one dtype"),
        (_t(2, 8, 2, 4), _t(2, 9, 2, 4), _t(2, 9, 2, 4), ValueError, "same sequence length"),
        (_t(2, 8, 2, 4), _t(2, 8, 2, 4), _t(2, 7, 2, 4), ValueError, "k and v must have the same"),
        (_t(2, 8, 0, 4), _t(2, 8, 0, 4), _t(2, 8, 0, 4), ValueError, ">= 1"),
        (torch.zeros(2, 8, 2, 4, dtype=torch.long),) * 3 + (TypeError, "floating-point"),
    ],
)
def test_bad_tensors(q, k, v, error, match):
    with pytest.raises(error, match=match):
        ringlib.attention(q, k, v, PATTERN)


def test_bad_pattern_arguments():
    with pytest.raises(ValueError, match="same length"):
        ringlib.Dilated([8, 16], [1])
    with pytest.raises(ValueError, match="positive integers"):
        ringlib.Dilated([8, 0], [1, 2])
    with pytest.raises(ValueError, match="positive integers"):
        ringlib.Dilated([8], [-1])
    with pytest.raises(ValueError, match="not be empty"):
        ringlib.Dilated([], [])
    with pytest.raises(ValueError, match="mixing"):
        ringlib.Dilated([8], [1], mixing="mean")


def test_bad_call_arguments():
    q = _t(1, 8, 2, 4)
    with pytest.raises(TypeError, match="pattern must be"):
        ringlib.attention(q, q, q, "dilated")
    with pytest.raises(ValueError, match="ordering"):
        ringlib.attention(q, q, q, PATTERN, ordering="zorder")
    with pytest.raises(ValueError, match="backend"):
        ringlib.attention(q, q, q, PATTERN, backend="triton")
    with pytest.raises(ValueError, match="dropout_p"):
        ringlib.attention(q, q, q, PATTERN, dropout_p=1.5)
    with pytest.raises(ValueError, match="scale"):
        ringlib.attention(q, q, q, PATTERN, scale=-1.0)
    with pytest.raises(ValueError, match="permutation"):
        ringlib.attention(q, q, q, PATTERN, ordering=lambda m: [0] * m)


def test_bad_module_arguments():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        ringlib.MultiheadDilatedAttention(10, 3, PATTERN)
    with pytest.raises(ValueError, match="num_heads"):
        ringlib.MultiheadDilatedAttention(8, 0, PATTERN)
    with pytest.raises(TypeError, match="pattern"):
        ringlib.DilatedAttention([8])
    m = ringlib.MultiheadDilatedAttention(8, 2, PATTERN)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, seq, 8\)"):
        m(torch.zeros(1, 8, 6))
