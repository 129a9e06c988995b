"""BLOCK_SUM (per_block_sum) reproduces the legacy golden files (golden/README.md)."""

from pathlib import Path

import pytest
import torch

import ringlib
from ringlib.adaptive import AdaptiveBlockSparseAttention

GOLDEN = Path("/work/shared/legacy/golden")
pytestmark = pytest.mark.skipif(not GOLDEN.exists(), reason="legacy golden files not available")


def _check(g, run):
    q, k, v = (g["inputs"][n].float().requires_grad_() for n in "qkv")
    out = run(q, k, v)
    torch.testing.assert_close(out, g["output"], rtol=1e-5, atol=1e-5)
    out.backward(g["inputs"]["grad_output"].float())
    for name, x in zip("qkv", (q, k, v)):
        torch.testing.assert_close(x.grad[0:1], g["grads"][name].float(), rtol=1e-3, atol=1e-6)
        assert x.grad[1:].abs().max() == 0


@pytest.mark.parametrize("file, pattern", [
    ("BlockSparseRingDilatedAttention.pt", ringlib.BlockSparse("dilated_sparse", 64, "per_block_sum")),
    ("BlockSparseRingDilatedAttentionFixed.pt",
     ringlib.BlockSparse("local_window", 64, "per_block_sum", window_size=256)),
    ("BlockSparseRingDilatedAttentionHilbertPostPattern.pt",
     ringlib.BlockSparse("global_local", 64, "per_block_sum", global_blocks=1, window_size=256)),
])
def test_block_sum_golden(file, pattern):
    g = torch.load(GOLDEN / file, weights_only=True)
    _check(g, lambda q, k, v: ringlib.attention(q, k, v, pattern, backend="sdpa"))


def test_row_softmax_is_not_block_sum():
    """The golden numbers really pin the per-block normalisation down."""
    g = torch.load(GOLDEN / "BlockSparseRingDilatedAttention.pt", weights_only=True)
    q, k, v = (g["inputs"][n].float() for n in "qkv")
    out = ringlib.attention(q, k, v, ringlib.BlockSparse("dilated_sparse", 64))
    assert (out - g["output"]).abs().max() > 1.0


def test_adaptive_golden_with_legacy_selection():
    g = torch.load(GOLDEN / "BlockSparseAdaptive.pt", weights_only=True)
    m = AdaptiveBlockSparseAttention(4, 32, block_size=64, hidden_dim=32)
    assert list(m.state_dict()) == list(g["state_dict"])
    m.load_state_dict(g["state_dict"])
    m.eval()

    def run(q, k, v):
        layout = m.legacy_layout(q, k, base_sparsity=0.75)
        return ringlib.attention(q, k, v, ringlib.BlockSparse(layout, 64, "per_block_sum"))

    _check(g, run)
    assert all(p.grad is None for p in m.parameters())  # legacy: selection not differentiable
