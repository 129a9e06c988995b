"""The old block-sparse factory and presets, routing kept exactly."""

from __future__ import annotations

import ast
from typing import List, Literal, Optional

from ringlib_legacy.sparse_configs import PRESETS, Preset

from .adaptive_lazy import BlockSparseAdaptive as LazyBlockSparseAdaptive
from .block_sparse import BlockSparseRingDilatedAttention, BlockSparseRingMultiheadDilatedAttention
from .common import warn_ignored
from .configs import AdaptiveConfig, DistributedSparseConfig, SparsePatternConfig
from .hierarchical import BlockSparseRingDistributedDilatedAttention

BlockSparseVariant = Literal["auto", "base", "adaptive", "multihead", "distributed"]


def create_block_sparse_attention(variant: BlockSparseVariant = "auto", segment_lengths: Optional[List[int]] = None,
                                  dilation_rates: Optional[List[int]] = None,
                                  sparse_config: Optional[SparsePatternConfig] = None,
                                  sparsity_ratio: Optional[float] = None, block_size: Optional[int] = None,
                                  adaptive_config: Optional[AdaptiveConfig] = None,
                                  distributed_config: Optional[DistributedSparseConfig] = None,
                                  embed_dim: Optional[int] = None, num_heads: Optional[int] = None, **kwargs):
    segment_lengths = segment_lengths or [2048, 4096, 8192]
    dilation_rates = dilation_rates or [1, 2, 4]
    if sparse_config is None and (sparsity_ratio is not None or block_size is not None):
        sparse_config = SparsePatternConfig(sparsity_ratio=sparsity_ratio or 0.1, block_size=block_size or 64)
    if variant == "auto":
        if distributed_config is not None:
            variant = "distributed"
        elif embed_dim is not None and num_heads is not None:
            variant = "multihead"
        elif adaptive_config is not None:
            variant = "adaptive"
        else:
            variant = "base"
    if variant == "base":
        return BlockSparseRingDilatedAttention(segment_lengths=segment_lengths, dilation_rates=dilation_rates,
                                               sparse_config=sparse_config, **kwargs)
    if variant == "adaptive":
        if sparse_config is not None and sparse_config.block_size != 64 and "block_size" not in kwargs:
            warn_ignored("the adaptive variant runs with block size 64 (its sparse_config block size is replaced)")
        return LazyBlockSparseAdaptive(segment_lengths, dilation_rates, sparse_config=sparse_config,
                                       adaptive_config=adaptive_config or AdaptiveConfig(), **kwargs)
    if variant == "multihead":
        if embed_dim is None or num_heads is None:
            raise ValueError("embed_dim and num_heads are required for multihead variant")
        return BlockSparseRingMultiheadDilatedAttention(embed_dim=embed_dim, num_heads=num_heads,
                                                        segment_lengths=segment_lengths,
                                                        dilation_rates=dilation_rates, sparse_config=sparse_config,
                                                        **kwargs)
    if variant == "distributed":
        return BlockSparseRingDistributedDilatedAttention(
            embed_dim=embed_dim or 768, num_heads=num_heads or 12, segment_lengths=segment_lengths,
            dilation_rates=dilation_rates, distributed_config=distributed_config or DistributedSparseConfig(),
            **kwargs)
    if variant == "hilbert":
        raise ValueError("Hilbert variant has been removed; use variant='base' (ringlib.BlockSparse)")
    if variant == "hierarchical":
        raise ValueError("Hierarchical variant has been removed; use variant='distributed'")
    raise ValueError(f"Unknown variant: {variant}")


def _preset_arguments(preset: Preset) -> dict:
    """The factory arguments of one preset row (``ringlib_legacy.sparse_configs.PRESETS``)."""
    arguments = {"variant": preset.variant}
    if preset.config:
        arguments["sparse_config"] = SparsePatternConfig(**{k: ast.literal_eval(v) for k, v in preset.config})
    if preset.adaptive_config:
        arguments["adaptive_config"] = AdaptiveConfig(**{k: ast.literal_eval(v) for k, v in preset.adaptive_config})
    arguments.update({k: ast.literal_eval(v) for k, v in preset.arguments})
    return arguments


_PRESETS = {preset.name: preset for preset in PRESETS}


def get_block_sparse_preset(preset_name: str, **override_kwargs):
    if preset_name not in _PRESETS:
        raise ValueError(f"Unknown preset: {preset_name}. Available presets: {', '.join(_PRESETS)}")
    config = _preset_arguments(_PRESETS[preset_name])
    config.update(override_kwargs)
    variant = config.pop("variant")
    return create_block_sparse_attention(variant, **config)


def create_adaptive_block_sparse(base_sparsity: float = 0.9, **kwargs):
    return create_block_sparse_attention("adaptive", adaptive_config=AdaptiveConfig(base_sparsity=base_sparsity),
                                         **kwargs)


def create_multihead_block_sparse(embed_dim: int, num_heads: int, sparsity_ratio: float = 0.1, **kwargs):
    return create_block_sparse_attention("multihead", embed_dim=embed_dim, num_heads=num_heads,
                                         sparsity_ratio=sparsity_ratio, **kwargs)
