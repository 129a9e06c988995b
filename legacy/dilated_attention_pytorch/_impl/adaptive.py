"""The old content-adaptive block-sparse classes: the legacy selector
(``ringlib.adaptive.select_adaptive``) chooses a per-head layout, attended with BLOCK_SUM.
The parameters live in ``ringlib.AdaptiveBlockSparseAttention`` (same state_dict keys)."""

from __future__ import annotations

import math
from typing import List, Optional

import torch

import ringlib
from ringlib.adaptive import AdaptiveBlockSparseAttention, select_adaptive
from ringlib.adaptive import BlockScorer as ImportanceScorer  # the old name of the same scorer

from .block_sparse import BlockSparseRingDilatedAttention
from .configs import AdaptiveConfig, SparsePatternConfig

Tensor = torch.Tensor

__all__ = ["BlockSparseAdaptive", "ImportanceScorer", "AdaptiveSparsityTrainer", "create_adaptive_block_sparse"]


class BlockSparseAdaptive(BlockSparseRingDilatedAttention, AdaptiveBlockSparseAttention):
    """BLOCK_SUM per head over the pairs SELECT_ADAPTIVE keeps."""

    def __init__(self, segment_lengths: List[int], dilation_rates: List[int], num_heads: int, head_dim: int,
                 adaptive_config: Optional[AdaptiveConfig] = None, **kwargs):
        self._build(segment_lengths, dilation_rates, num_heads, head_dim, adaptive_config, kwargs)

    def _build(self, segment_lengths, dilation_rates, num_heads, head_dim, adaptive_config, kwargs) -> None:
        cfg = adaptive_config or AdaptiveConfig()
        block_size = kwargs.get("block_size", 64)
        AdaptiveBlockSparseAttention.__init__(
            self, num_heads, head_dim, block_size=block_size, hidden_dim=cfg.hidden_dim, num_layers=cfg.num_layers,
            share_across_heads=cfg.share_across_heads, temperature=cfg.temperature,
            learnable_temperature=cfg.learnable_temperature, min_temperature=cfg.min_temperature,
            normalization="per_block_sum")
        rest = {k: v for k, v in kwargs.items() if k not in ("num_heads", "head_dim", "sparse_config", "block_size")}
        config = SparsePatternConfig(pattern_type="adaptive", sparsity_ratio=cfg.base_sparsity, block_size=block_size)
        self._init_block_sparse(segment_lengths, dilation_rates, config, True, 100, rest, module_init=False)
        self.pattern, self.scale, self.ordering, self.backend, self.group = None, None, None, "auto", None
        self.adaptive_config = cfg
        if "device" in kwargs:
            self.to(kwargs["device"])

    def layout(self, q: Tensor, k: Tensor) -> Tensor:
        """The kept pairs, bool ``[H, nb, nb]``, for these inputs in the current mode."""
        with torch.no_grad():
            scores = self.block_scores(q, k)
            return select_adaptive(scores, base_sparsity=self.adaptive_config.base_sparsity,
                                   hard=self.adaptive_config.hard_sparsity, temperature=self.temperature(),
                                   training=self.training)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, is_causal: bool = False, return_pattern: bool = False):
        self._check(q, k, v)
        if q.shape[1] == 0:  # no blocks to score: the empty output, as the old class returned
            out = ringlib.attention(q, k, v, ringlib.Dense())
            return (out, {"patterns": []}) if return_pattern else out
        layout = self.layout(q, k)
        pattern = ringlib.BlockSparse(layout.cpu(), block_size=self.block_size, normalization="per_block_sum")
        out = ringlib.attention(q, k, v, pattern, causal=is_causal, backend=self.backend)
        if not return_pattern:
            return out
        patterns = []
        for head in layout:
            rows, cols = head.nonzero(as_tuple=True)
            patterns.append((rows, cols))
        return out, {"patterns": patterns}

    def get_sparsity_loss(self) -> Tensor:
        return torch.tensor(0.0, device=self.log_temperature.device, requires_grad=True)

    def extra_repr(self) -> str:
        return f"num_heads={self.num_heads}, head_dim={self.head_dim}, adaptive_config={self.adaptive_config}"


class AdaptiveSparsityTrainer:
    """Anneals the temperature of a ``BlockSparseAdaptive``."""

    def __init__(self, model: BlockSparseAdaptive, initial_temperature: float = 1.0, final_temperature: float = 0.1,
                 annealing_steps: int = 10000):
        self.model, self.initial_temperature = model, initial_temperature
        self.final_temperature, self.annealing_steps = final_temperature, annealing_steps
        self.current_step = 0

    def step(self) -> None:
        self.current_step += 1
        if self.model.adaptive_config.learnable_temperature:
            p = min(self.current_step / self.annealing_steps, 1.0)
            t = self.initial_temperature * (1 - p) + self.final_temperature * p
            with torch.no_grad():
                self.model.log_temperature.fill_(math.log(t))

    def analyze_patterns(self, dataloader, num_samples: int = 100) -> dict:
        self.model.eval()
        ratios = []
        with torch.no_grad():
            for i, (q, k, v) in enumerate(dataloader):
                if i >= num_samples:
                    break
                _, info = self.model(q, k, v, return_pattern=True)
                for rows, _ in info["patterns"]:
                    pairs = rows.numel()
                    side = math.isqrt(pairs)
                    ratios.append(1 - pairs / (side * side) if side else 0.0)
        return {"sparsity_ratios": ratios, "pattern_diversity": [], "head_similarity": []}


def create_adaptive_block_sparse(embed_dim: int, num_heads: int, segment_lengths: List[int] = None,
                                 dilation_rates: List[int] = None, adaptive_config: Optional[AdaptiveConfig] = None,
                                 **kwargs) -> BlockSparseAdaptive:
    for name, value in (("embed_dim", embed_dim), ("num_heads", num_heads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return BlockSparseAdaptive(segment_lengths or [2048, 4096, 8192], dilation_rates or [1, 2, 4], num_heads,
                               embed_dim // num_heads, adaptive_config, **kwargs)
