"""Attention layers, written against three different import forms of the old package."""

from typing import Optional

import torch
from torch import nn

import dilated_attention_pytorch as dap
from dilated_attention_pytorch.ring import RingDilatedAttentionCorrect as RingAttention
from dilated_attention_pytorch.ring_dilated_attention_v3 import RingDilatedAttentionV3

SEGMENTS = [16, 32]  # segment lengths of the two dilation levels
RATES = [1, 2]


def ring_layer(dim: int, heads: int, use_hilbert: bool = True) -> RingAttention:
    """The model's main attention layer."""
    return RingAttention(dim, heads, SEGMENTS, RATES, use_hilbert=use_hilbert)


def first_segment_layer(dim: int, heads: int) -> nn.Module:
    return RingDilatedAttentionV3(
        embed_dim=dim,
        num_heads=heads,
        segment_lengths=SEGMENTS,
        dilation_rates=RATES,
        dropout=0.0,
    )


def dense_layer(dim: int, heads: int) -> nn.Module:
    # the package-level name of the earlier layout
    return dap.RingDilatedAttentionHilbertGPUOptimized(dim, heads, [32], [1], device="cpu", dtype=torch.float32)


class Mixer(nn.Module):
    """Averages a dilated and a dense attention layer."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.dilated: Optional[RingAttention] = ring_layer(dim, heads)
        self.dense = dense_layer(dim, heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert isinstance(self.dilated, RingAttention)
        return 0.5 * (self.dilated(x) + self.dense(x))
