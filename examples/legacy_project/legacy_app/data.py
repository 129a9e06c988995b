"""Synthetic token batches (no old names here: the pre-filter skips this file)."""

import torch


def batch(size: int = 2, length: int = 64, vocab: int = 50, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (size, length), generator=generator)
