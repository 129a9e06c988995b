"""Ring layers with trainable projections (their order fixes the random stream)."""

import functools

import torch
from torch import nn

from dilated_attention_pytorch.ring import RingDilatedAttentionCorrect, RingDilatedAttentionHilbertCore
from dilated_attention_pytorch.ring.base.ring_dilated_attention_v3 import RingDilatedAttentionV3
import dilated_attention_pytorch.ring.hilbert as hilbert

EMBED, HEADS = 32, 4
KINDS = {"correct": RingDilatedAttentionCorrect, "v3": RingDilatedAttentionV3}
WIDE = functools.partial(RingDilatedAttentionCorrect, EMBED, HEADS)


class Stack(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = RingDilatedAttentionCorrect(EMBED, HEADS, [32, 64], [1, 2], use_hilbert=False)
        self.core = RingDilatedAttentionHilbertCore(dim=EMBED, heads=HEADS, segment_lengths=[32, 64],
                                                    dilation_rates=[1, 2])
        self.v3 = RingDilatedAttentionV3(
            EMBED,
            HEADS,
            [32, 64],
            [1, 2],
            use_hilbert=False,  # Disable Hilbert
        )
        self.gpu = hilbert.RingDilatedAttentionHilbertGPUOptimized(
            embed_dim=EMBED, num_heads=HEADS, segment_lengths=[64], dilation_rates=[1],
            attention_backend="sdpa",  # kernel hint
        )
        self.by_kind = KINDS["v3"](EMBED, HEADS, [64], [1], use_hilbert=False)
        self.wide = WIDE([128], [1], use_hilbert=False)
        self.head = nn.Linear(EMBED, EMBED)

    def forward(self, x):
        x = x + self.first(x)
        x = x + self.v3(x)
        x = x + self.gpu(x)
        x = x + self.by_kind(x) + self.wide(x)
        return self.head(x)
