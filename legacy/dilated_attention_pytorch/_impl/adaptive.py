"""The old content-adaptive block-sparse classes: ``ringlib.AdaptiveBlockSparseAttention`` with
``selection="batch_threshold"`` (``"batch_majority"`` for ``hard_sparsity``) and
``normalization="per_block_sum"``: one per-head layout shared by the batch, attended with
BLOCK_SUM. Same parameters, same state_dict keys, same numbers."""

from __future__ import annotations

import math
from typing import List, Optional

import torch

from ringlib.adaptive import AdaptiveBlockSparseAttention
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
            normalization="per_block_sum", selection="batch_majority" if cfg.hard_sparsity else "batch_threshold",
            # the old k formula gives 1 at base_sparsity 1.0, which the canonical sparsity range excludes
            **({"top_k": 1} if cfg.base_sparsity >= 1 else {"sparsity": cfg.base_sparsity}))
        rest = {k: v for k, v in kwargs.items() if k not in ("num_heads", "head_dim", "sparse_config", "block_size")}
        config = SparsePatternConfig(pattern_type="adaptive", sparsity_ratio=cfg.base_sparsity, block_size=block_size)
        self._init_block_sparse(segment_lengths, dilation_rates, config, True, 100, rest, module_init=False)
        self.pattern, self.scale, self.ordering, self.backend, self.group = None, None, None, "auto", None
        self.adaptive_config = cfg
        if "device" in kwargs:
            self.to(kwargs["device"])

    def layout(self, q: Tensor, k: Tensor) -> Tensor:
        """The kept pairs, bool ``[H, nb, nb]``, for these inputs in the current mode."""
        return self.shared_layout(q, k)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, is_causal: bool = False, return_pattern: bool = False):
        self._check(q, k, v)
        layout = self.layout(q, k) if q.shape[1] else torch.zeros(self.num_heads, 0, 0, dtype=torch.bool)
        out = self.attend_shared(q, k, v, layout, is_causal=is_causal, backend=self.backend)
        if not return_pattern:
            return out
        return out, {"patterns": [head.nonzero(as_tuple=True) for head in layout] if q.shape[1] else []}

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
