"""The old configuration dataclasses: same fields, defaults
and validation. Plain data; they map onto ``ringlib.BlockSparse`` arguments."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from enum import Enum
from typing import Optional

HAS_DEEPSPEED = importlib.util.find_spec("deepspeed") is not None
HAS_APEX = importlib.util.find_spec("apex") is not None

_PATTERN_TYPES = ("local_window", "dilated_sparse", "global_local", "adaptive")


@dataclass
class SparsePatternConfig:
    pattern_type: str = "local_window"
    block_size: int = 64
    sparsity_ratio: float = 0.1  # validated only: it never changed a pattern
    window_size: int = 256
    global_tokens: int = 1  # counts blocks, despite its name
    dilation_rates: Optional[list] = None

    def __post_init__(self) -> None:
        if self.pattern_type not in _PATTERN_TYPES:
            raise ValueError(f"Unknown pattern_type: {self.pattern_type}")
        if self.block_size <= 0:
            raise ValueError(f"block_size must be positive, got {self.block_size}")
        if not 0 < self.sparsity_ratio <= 1:
            raise ValueError(f"sparsity_ratio must be in (0, 1], got {self.sparsity_ratio}")


@dataclass
class AdaptiveConfig:
    base_sparsity: float = 0.9
    temperature: float = 1.0
    learnable_temperature: bool = True
    min_temperature: float = 0.1
    hidden_dim: int = 128
    num_layers: int = 2
    share_across_heads: bool = False
    sparsity_reg_weight: float = 0.01
    hard_sparsity: bool = False


class DistributedSparsePattern(Enum):
    HIERARCHICAL = "hierarchical"
    NODE_LOCAL = "node_local"
    BANDWIDTH_AWARE = "bandwidth_aware"
    ADAPTIVE_LOAD_BALANCED = "adaptive_load_balanced"


@dataclass
class DistributedSparseConfig:
    pattern_type: DistributedSparsePattern = DistributedSparsePattern.HIERARCHICAL
    sparsity_ratio: float = 0.25
    block_size: int = 128
    local_sparsity: float = 0.4
    global_sparsity: float = 0.1
    inter_node_sparsity: float = 0.05
    compression_ratio: float = 0.1
    load_balance_threshold: float = 0.15
    adaptive_sparsity_rate: float = 0.05
    enable_async_communication: bool = True
    enable_gradient_compression: bool = True
    enable_load_balancing: bool = True
    enable_memory_pool: bool = True
    enable_pinned_memory: bool = True
    gradient_bucket_size_mb: float = 25.0
    gradient_bucket_count: int = 32

    def __post_init__(self) -> None:
        for name in ("sparsity_ratio", "local_sparsity", "global_sparsity", "inter_node_sparsity"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.block_size <= 0 or self.block_size & (self.block_size - 1):
            raise ValueError(f"block_size must be a positive power of 2, got {self.block_size}")
        if self.inter_node_sparsity > self.global_sparsity:
            raise ValueError("inter_node_sparsity must not exceed global_sparsity")
        if not 0 < self.compression_ratio <= 1:
            raise ValueError(f"compression_ratio must be in (0, 1], got {self.compression_ratio}")
