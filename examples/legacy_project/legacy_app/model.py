"""TinyLM: embedding, two attention blocks, a tied output head."""

import torch
from torch import nn

from legacy_app.attention import Mixer, first_segment_layer


class TinyLM(nn.Module):
    def __init__(self, vocab: int = 50, dim: int = 32, heads: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.block1 = Mixer(dim, heads)
        self.block2 = first_segment_layer(dim, heads)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)
        x = x + self.block1(x)
        x = x + self.block2(x)
        return self.norm(x) @ self.embed.weight.T


def build_model(seed: int = 0) -> TinyLM:
    torch.manual_seed(seed)
    return TinyLM().eval()
