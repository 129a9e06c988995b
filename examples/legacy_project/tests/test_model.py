"""The old project's own test, in the old package's style."""

import pytest
import torch

from dilated_attention_pytorch.ring import RingDilatedAttentionCorrect
from legacy_app import build_model
from legacy_app.data import batch


@pytest.mark.parametrize("use_hilbert", [True, False])
def test_ring_layer_shapes(use_hilbert):
    layer = RingDilatedAttentionCorrect(32, 4, [16, 32], [1, 2], use_hilbert=use_hilbert).eval()
    x = torch.randn(2, 64, 32)
    assert layer(x).shape == x.shape


def test_model_runs():
    logits = build_model()(batch())
    assert logits.shape == (2, 64, 50)
    assert torch.isfinite(logits).all()
