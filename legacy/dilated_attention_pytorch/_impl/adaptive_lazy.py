"""The old ``sparse.block_sparse_adaptive_fixed.BlockSparseAdaptive`` (``sparse.BlockSparseAdaptiveFixed``):
the adaptive block-sparse module of ``adaptive.py`` with lazily created parameters. It keeps the
old class name in its own file, so ``inspect.getsource`` and pickles find it by that name."""

from __future__ import annotations

from typing import List, Optional

import torch

from . import adaptive
from .common import warn_ignored
from .configs import AdaptiveConfig, SparsePatternConfig

Tensor = torch.Tensor

__all__ = ["BlockSparseAdaptive", "create_adaptive_block_sparse_consistent"]


class BlockSparseAdaptive(adaptive.BlockSparseAdaptive):
    """The lazy variant (``sparse.BlockSparseAdaptiveFixed``): parameters are created at the
    first forward from ``q.shape``, or from a loaded checkpoint, or at once when
    ``num_heads`` and ``head_dim`` are given."""

    def __init__(self, segment_lengths: List[int], dilation_rates: List[int],
                 sparse_config: Optional[SparsePatternConfig] = None, adaptive_config: Optional[AdaptiveConfig] = None,
                 **kwargs):
        self._lazy_args = (segment_lengths, dilation_rates, adaptive_config or AdaptiveConfig(), kwargs)
        self._lazy_sparse_config = sparse_config
        self._initialized = False
        if "num_heads" in kwargs and "head_dim" in kwargs:
            self._materialize(kwargs["num_heads"], kwargs["head_dim"])
        else:
            torch.nn.Module.__init__(self)
            self._init_block_sparse(segment_lengths, dilation_rates, sparse_config, True, 100,
                                    {k: v for k, v in kwargs.items() if k != "block_size"}, module_init=False)
            self._register_load_state_dict_pre_hook(self._load_hook)

    def _materialize(self, num_heads: int, head_dim: int, hidden_dim: Optional[int] = None) -> None:
        segment_lengths, dilation_rates, cfg, kwargs = self._lazy_args
        sc = self._lazy_sparse_config
        if sc is not None and "block_size" not in kwargs and getattr(sc, "block_size", 64) != 64:
            warn_ignored("the block size of sparse_config is replaced by 64 (the lazy BlockSparseAdaptive reads "
                         "block_size from its keyword arguments only)")
        if hidden_dim is not None and hidden_dim != cfg.hidden_dim:
            cfg = AdaptiveConfig(**{**cfg.__dict__, "hidden_dim": hidden_dim})
        training = getattr(self, "training", True)
        self._build(segment_lengths, dilation_rates, num_heads, head_dim, cfg,
                    {k: v for k, v in kwargs.items() if k not in ("num_heads", "head_dim")})
        self.train(training)  # honour a mode set before the parameters existed
        self._initialized = True

    def _load_hook(self, state_dict, prefix, *args) -> None:
        if self._initialized:
            return
        heads = sum(1 for key in state_dict if key.startswith(prefix + "importance_scorer.head_projections.")
                    and key.endswith(".weight"))
        weight = state_dict.get(prefix + "q_summary_proj.weight")
        if heads and weight is not None:
            hidden = state_dict[prefix + "importance_scorer.head_projections.0.weight"].shape[0]
            self._materialize(heads, weight.shape[0], hidden)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, is_causal: bool = False,
                return_attention_weights: bool = False, **kwargs):
        if q.dim() != 4:
            raise ValueError(f"q must be 4-D (batch, seq, heads, head_dim), got {tuple(q.shape)}")
        if not self._initialized:
            self._materialize(q.shape[2], q.shape[3])
            self.to(q.device)
        return_pattern = kwargs.pop("return_pattern", return_attention_weights)
        result = adaptive.BlockSparseAdaptive.forward(self, q, k, v, is_causal, return_pattern, **kwargs)
        if not return_attention_weights:
            return result[0] if isinstance(result, tuple) else result
        if not return_pattern:
            return result, None
        out, info = result
        sparsity = self._lazy_sparse_config.sparsity_ratio if self._lazy_sparse_config is not None else 0.1
        return out, {"patterns": info["patterns"], "type": "adaptive", "sparsity": sparsity}

    def __repr__(self) -> str:
        if not self._initialized:
            return "BlockSparseAdaptive(uninitialized)"
        return (f"BlockSparseAdaptive(num_heads={self.num_heads}, head_dim={self.head_dim}, "
                f"adaptive_config={self.adaptive_config})")


def create_adaptive_block_sparse_consistent(segment_lengths, dilation_rates, sparse_config=None,
                                            adaptive_config=None, **kwargs) -> BlockSparseAdaptive:
    return BlockSparseAdaptive(segment_lengths, dilation_rates, sparse_config, adaptive_config, **kwargs)
