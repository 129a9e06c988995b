"""``core.base``, the registries of ``core.factory`` and ``core.standardized_api`` of 0.2.

The base classes keep the old constructor contract (configs in, common attributes set,
abstract hooks for subclasses) so user subclasses still work; the registries are plain
dicts that the old factory functions read.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import torch
from torch import nn

from .infra import DilatedAttentionConfig, MultiheadConfig, RingAttentionConfig
from .platform import get_current_optimal_settings
from .utils import ValidationMixin

Tensor = torch.Tensor


class BaseDilatedAttention(nn.Module, ValidationMixin, ABC):
    """Base of q, k, v dilated attention modules built from a ``DilatedAttentionConfig``."""

    def __init__(self, config: DilatedAttentionConfig):
        super().__init__()
        self.config = config
        self.segment_lengths, self.dilation_rates = config.segment_lengths, config.dilation_rates
        self.dropout, self.num_groups = config.dropout, config.num_groups
        self.device, self.dtype = config.device, config.dtype
        self.dropout_layer = nn.Dropout(config.dropout) if config.dropout > 0 else None
        self._max_cache_size = 100
        self._cache_lock = threading.RLock()
        settings = get_current_optimal_settings()
        self._use_flash_attn = settings.get("use_flash_attn", False)
        self._optimal_block_size = settings.get("block_size", 512)

    @abstractmethod
    def forward(self, q: Tensor, k: Tensor, v: Tensor, is_causal: bool = False,
                attention_mask: Tensor | None = None) -> Tensor:
        """``(batch, seq, heads, head_dim)`` -> same shape."""

    def _validate_forward_inputs(self, q: Tensor, k: Tensor, v: Tensor, attention_mask: Tensor | None = None) -> None:
        for t, name in ((q, "query"), (k, "key"), (v, "value")):
            self.validate_batch_first_format(t, name)
        self.validate_tensor_shapes_match([q, k, v], ["query", "key", "value"])
        self.validate_sequence_length(q.shape[1], self.segment_lengths)
        self.validate_num_heads(q.shape[2], self.num_groups)
        self.validate_attention_mask(attention_mask, q.shape[0], q.shape[1])

    def clear_cache(self, force: bool = False) -> None:
        """Nothing is cached here (ringlib keeps its own small caches)."""

    def get_memory_info(self) -> dict:
        info = {"memory_pool_enabled": False, "cuda_available": torch.cuda.is_available()}
        if torch.cuda.is_available():
            info.update(allocated_mb=torch.cuda.memory_allocated() / 2 ** 20,
                        reserved_mb=torch.cuda.memory_reserved() / 2 ** 20)
        return info

    def extra_repr(self) -> str:
        return (f"segment_lengths={self.segment_lengths}, dilation_rates={self.dilation_rates}, "
                f"dropout={self.dropout}, num_groups={self.num_groups}")


class BaseMultiheadDilatedAttention(nn.Module, ValidationMixin, ABC):
    """Base of multihead modules: sets the common attributes, then calls the hooks
    ``_create_attention_module`` and ``_init_qkv_projections`` and adds ``out_proj`` and,
    with ``layer_norm``, ``q_ln``/``k_ln`` (the old attribute names and order)."""

    def __init__(self, multihead_config: MultiheadConfig, attention_config: DilatedAttentionConfig):
        super().__init__()
        self.multihead_config, self.attention_config = multihead_config, attention_config
        self.embed_dim, self.num_heads = multihead_config.embed_dim, multihead_config.num_heads
        self.head_dim, self.bias = multihead_config.head_dim, multihead_config.bias
        self.device, self.dtype = multihead_config.device, multihead_config.dtype
        self.attention = self._create_attention_module()
        factory = {"device": self.device, "dtype": self.dtype}
        self._init_qkv_projections(factory)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=self.bias, **factory)
        if multihead_config.layer_norm:
            eps = multihead_config.layer_norm_eps
            self.q_ln = nn.LayerNorm(self.embed_dim, eps=eps, **factory)
            self.k_ln = nn.LayerNorm(self.embed_dim, eps=eps, **factory)
        else:
            self.q_ln = self.k_ln = None
        self._reset_parameters()

    @abstractmethod
    def _create_attention_module(self) -> BaseDilatedAttention:
        """The inner q, k, v attention module."""

    @abstractmethod
    def _init_qkv_projections(self, factory_kwargs: dict[str, Any]) -> None:
        """Create the input projections."""

    def _reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.out_proj.weight)
        if self.out_proj.bias is not None:
            nn.init.zeros_(self.out_proj.bias)

    @abstractmethod
    def forward(self, query: Tensor, key: Tensor | None = None, value: Tensor | None = None,
                key_padding_mask: Tensor | None = None, need_weights: bool = False, attn_mask: Tensor | None = None,
                is_causal: bool = False):
        """``(batch, seq, embed_dim)`` -> same shape (or ``(out, None)`` with ``need_weights``)."""

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, bias={self.bias}"


# ``register_attention`` / ``register_multihead_attention`` live beside the factories that read
# them (``model_factory``).


# ---- core.standardized_api ------------------------------------------------------------------

@dataclass
class StandardizedRingConfig:
    """One parameter set for every ring class; ``embed_dim`` or ``dim * heads`` gives the width."""

    dim: Optional[int] = None
    heads: Optional[int] = None
    embed_dim: Optional[int] = None
    segment_lengths: List[int] = None  # type: ignore[assignment]
    dilation_rates: List[int] = None  # type: ignore[assignment]
    ring_size: Optional[int] = None
    dropout: float = 0.0
    bias: bool = False
    use_memory_pool: bool = True
    use_gradient_checkpointing: bool = True
    mixed_precision: bool = True
    memory_pool_size: int = 10
    sparse_pattern_config: Optional[Dict[str, Any]] = None
    sparsity_ratio: Optional[float] = None
    block_size: Optional[int] = None
    use_hilbert: bool = False
    hilbert_chunk_size: Optional[int] = None
    use_flash: bool = False

    def __post_init__(self):
        if self.segment_lengths is None:
            self.segment_lengths = [2048, 4096, 8192]
        if self.dilation_rates is None:
            self.dilation_rates = [1, 2, 4]
        if len(self.segment_lengths) != len(self.dilation_rates):
            raise ValueError("segment_lengths and dilation_rates must have the same length: "
                             f"{len(self.segment_lengths)} != {len(self.dilation_rates)}")
        if self.embed_dim is None and self.dim is not None and self.heads is not None:
            self.embed_dim = self.dim * self.heads
        elif self.embed_dim is not None and self.heads is not None and self.dim is None:
            if self.embed_dim % self.heads:
                raise ValueError(f"embed_dim ({self.embed_dim}) must be divisible by heads ({self.heads})")
            self.dim = self.embed_dim // self.heads

    def to_ring_attention_config(self) -> RingAttentionConfig:
        """The ``core.config.RingAttentionConfig`` of these settings (the old method imported a
        module removed before 0.2 and always raised)."""
        return RingAttentionConfig(segment_lengths=list(self.segment_lengths), dilation_rates=list(self.dilation_rates),
                                   dropout=self.dropout, ring_size=self.ring_size,
                                   use_checkpointing=self.use_gradient_checkpointing,
                                   use_memory_pool=self.use_memory_pool)

    def to_sparse_pattern_config(self):
        """A ``SparsePatternConfig`` from ``sparse_pattern_config`` plus ratio/block size."""
        from .configs import SparsePatternConfig

        values = dict(self.sparse_pattern_config or {})
        if self.sparsity_ratio is not None:
            values["sparsity_ratio"] = self.sparsity_ratio
        if self.block_size is not None:
            values["block_size"] = self.block_size
        return SparsePatternConfig(**values)


class StandardizedRingAttentionMixin:
    """``from_config`` / ``from_params`` constructors over ``StandardizedRingConfig``."""

    @classmethod
    def from_config(cls, config: StandardizedRingConfig, **kwargs):
        raise NotImplementedError("Subclasses must implement from_config")

    @classmethod
    def from_params(cls, dim: Optional[int] = None, heads: Optional[int] = None, embed_dim: Optional[int] = None,
                    segment_lengths: List[int] = None, dilation_rates: List[int] = None,
                    ring_size: Optional[int] = None, dropout: float = 0.0, **kwargs):
        fields = set(StandardizedRingConfig.__dataclass_fields__)
        config = StandardizedRingConfig(dim=dim, heads=heads, embed_dim=embed_dim, segment_lengths=segment_lengths,
                                        dilation_rates=dilation_rates, ring_size=ring_size, dropout=dropout,
                                        **{k: v for k, v in kwargs.items() if k in fields})
        return cls.from_config(config, **{k: v for k, v in kwargs.items() if k not in fields})


_STANDARD_TYPES = {"production": "RingDilatedAttentionCorrect", "hilbert": "RingDilatedAttentionHilbertProper",
                   "block_sparse": "BlockSparseRingDilatedAttention",
                   "block_sparse_multihead": "BlockSparseRingMultiheadDilatedAttention"}


def create_standardized_ring_attention(attention_type: str, dim: Optional[int] = None, heads: Optional[int] = None,
                                       embed_dim: Optional[int] = None, segment_lengths: List[int] = None,
                                       dilation_rates: List[int] = None, ring_size: Optional[int] = None,
                                       dropout: float = 0.0, sparse_pattern_config: Optional[Dict[str, Any]] = None,
                                       sparsity_ratio: Optional[float] = None, block_size: Optional[int] = None,
                                       **kwargs) -> nn.Module:
    """The shim class of ``attention_type`` ("production", "hilbert", "block_sparse",
    "block_sparse_multihead") built from one parameter set."""
    from . import resolve

    if attention_type not in _STANDARD_TYPES:
        raise ValueError(f"attention_type must be one of {sorted(_STANDARD_TYPES)}, got {attention_type!r}")
    cfg = StandardizedRingConfig(dim=dim, heads=heads, embed_dim=embed_dim, segment_lengths=segment_lengths,
                                 dilation_rates=dilation_rates, ring_size=ring_size, dropout=dropout,
                                 sparse_pattern_config=sparse_pattern_config, sparsity_ratio=sparsity_ratio,
                                 block_size=block_size)
    cls = resolve(_STANDARD_TYPES[attention_type])
    if attention_type.startswith("block_sparse"):
        sparse = cfg.to_sparse_pattern_config()
        if attention_type == "block_sparse":
            return cls(cfg.segment_lengths, cfg.dilation_rates, sparse_config=sparse, **kwargs)
        return cls(cfg.embed_dim, cfg.heads, cfg.segment_lengths, cfg.dilation_rates, dropout=dropout,
                   sparse_config=sparse, **kwargs)
    if cfg.embed_dim is None or cfg.heads is None:
        raise ValueError(f"attention_type {attention_type!r} needs heads and dim or embed_dim")
    return cls(cfg.embed_dim, cfg.heads, cfg.segment_lengths, cfg.dilation_rates, dropout=dropout, **kwargs)
