"""The old ``core.factory`` constructors of dilated attention modules.

In 0.2 their lazy registration imported module paths that no longer existed, so every call
raised ``ValueError: Unknown attention type ...``; the shim builds what the docstrings
promise ("intended"): ``"auto"`` and ``"improved"`` give the ``Improved*`` classes,
``"standard"`` the base ones, ``"block_sparse_ring"`` the block-sparse ones.
"""

from __future__ import annotations

from typing import Optional

from torch import nn

from . import base_modules

_SEGMENTS, _RATES = (2048, 4096, 8192), (1, 2, 4)
_MULTIHEAD_KEYS = ("bias", "layer_norm", "layer_norm_eps", "gamma_init", "device", "dtype")
_ATTENTION_KEYS = ("dropout", "use_tf32", "enable_memory_pool", "lightweight_pool", "enable_profiling")

_ATTENTION: dict[str, type] = {}
_MULTIHEAD: dict[str, type] = {}


def _register(table: dict[str, type], name: str, cls: type) -> None:
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    if not isinstance(cls, type):
        raise TypeError(f"cls must be a class, got {type(cls).__name__}")
    table[name] = cls


def register_attention(name: str, cls: type) -> None:
    """Make ``create_dilated_attention(name, ...)`` build ``cls(segment_lengths=..., dilation_rates=..., **kwargs)``."""
    _register(_ATTENTION, name, cls)


def register_multihead_attention(name: str, cls: type) -> None:
    """Make ``create_multihead_dilated_attention(name.removeprefix("multihead_"), ...)`` build ``cls``."""
    _register(_MULTIHEAD, name, cls)


def _known(table: dict[str, type], builtin: tuple[str, ...], attention_type: str, prefix: str = "") -> None:
    if attention_type not in builtin and f"{prefix}{attention_type}" not in table:
        available = [*builtin, *(name.removeprefix(prefix) for name in table)]
        raise ValueError(f"Unknown attention type '{attention_type}'. Available types: {available}")


def create_dilated_attention(attention_type: str = "auto", segment_lengths: Optional[list] = None,
                             dilation_rates: Optional[list] = None, **kwargs) -> nn.Module:
    """A q, k, v dilated attention module of the named type (``"auto"`` = ``"improved"``)."""
    segments = list(segment_lengths or _SEGMENTS)
    rates = list(dilation_rates or _RATES)
    attention_type = "improved" if attention_type == "auto" else attention_type
    _known(_ATTENTION, ("standard", "improved", "block_sparse_ring"), attention_type)
    if attention_type in _ATTENTION:
        return _ATTENTION[attention_type](segment_lengths=segments, dilation_rates=rates, **kwargs)
    if attention_type == "block_sparse_ring":
        from .block_sparse import BlockSparseRingDilatedAttention

        return BlockSparseRingDilatedAttention(segments, rates, **kwargs)
    own = {k: v for k, v in kwargs.items() if k in _ATTENTION_KEYS + ("device", "dtype")}
    if attention_type == "standard":
        dropout = own.pop("dropout", 0.0)
        own.pop("use_tf32", None)
        return base_modules.DilatedAttention(segments, rates, attention_dropout=dropout, **own)
    return base_modules.ImprovedDilatedAttention(segments, rates, **own)


def create_multihead_dilated_attention(attention_type: str = "auto", embed_dim: int = 768, num_heads: int = 12,
                                       segment_lengths: Optional[list] = None, dilation_rates: Optional[list] = None,
                                       **kwargs) -> nn.Module:
    """An ``x -> x`` multihead dilated attention module of the named type."""
    segments = list(segment_lengths or _SEGMENTS)
    rates = list(dilation_rates or _RATES)
    attention_type = "improved" if attention_type == "auto" else attention_type
    _known(_MULTIHEAD, ("standard", "improved", "block_sparse_ring"), attention_type, "multihead_")
    if f"multihead_{attention_type}" in _MULTIHEAD:
        return _MULTIHEAD[f"multihead_{attention_type}"](embed_dim=embed_dim, num_heads=num_heads,
                                                         segment_lengths=segments, dilation_rates=rates, **kwargs)
    if attention_type == "block_sparse_ring":
        from .block_sparse import BlockSparseRingMultiheadDilatedAttention
        from .configs import SparsePatternConfig

        sparse = kwargs.pop("sparse_config", None) or SparsePatternConfig(
            pattern_type=kwargs.pop("pattern_type", "dilated_sparse"),
            sparsity_ratio=kwargs.pop("sparsity_ratio", 0.25), block_size=kwargs.pop("block_size", 128))
        own = {k: v for k, v in kwargs.items() if k in ("dropout", "bias", "device", "dtype")}
        return BlockSparseRingMultiheadDilatedAttention(embed_dim, num_heads, segments, rates, sparse_config=sparse,
                                                        **own)
    own = {k: v for k, v in kwargs.items() if k in _MULTIHEAD_KEYS or k == "dropout"}
    if attention_type == "standard":
        return base_modules.MultiheadDilatedAttention(embed_dim, num_heads, rates, segments, **own)
    if "use_tf32" in kwargs:
        own["use_tf32"] = kwargs["use_tf32"]
    return base_modules.ImprovedMultiheadDilatedAttention(embed_dim, num_heads, rates, segments, **own)


def create_block_sparse_attention(sparsity_ratio: float = 0.9, pattern_type: str = "dilated_sparse",
                                  embed_dim: int = 768, num_heads: int = 12, **kwargs) -> nn.Module:
    """``core.create_block_sparse_attention``: the block-sparse multihead module."""
    return create_multihead_dilated_attention("block_sparse_ring", embed_dim, num_heads, sparsity_ratio=sparsity_ratio,
                                              pattern_type=pattern_type, **kwargs)


__all__ = ["create_dilated_attention", "create_multihead_dilated_attention", "create_block_sparse_attention",
           "register_attention", "register_multihead_attention"]
