"""Run TinyLM on a synthetic batch and print a checksum of the logits."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from legacy_app import build_model  # noqa: E402
from legacy_app.data import batch  # noqa: E402

try:
    from dilated_attention_pytorch.ring import RingDilatedAttentionHilbertOptimizedFixed
    HAS_STRIDED = True
except ImportError:
    HAS_STRIDED = False


def main() -> torch.Tensor:
    model = build_model()
    with torch.no_grad():
        logits = model(batch())
    if HAS_STRIDED:
        q = k = v = torch.randn(1, 64, 4, 8, generator=torch.Generator().manual_seed(2))
        core = RingDilatedAttentionHilbertOptimizedFixed(dim=8, segment_lengths=[16, 32], dilation_rates=[1, 2])
        logits = logits + core(q, k, v).sum()
    print(f"checksum {logits.double().sum().item():.6f}")
    return logits


if __name__ == "__main__":
    main()
