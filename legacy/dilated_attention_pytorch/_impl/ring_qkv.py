"""The old q, k, v -> out classes of the dilated family: configured ``ringlib.DilatedAttention``
instances (the old base ``DilatedAttention`` is in ``base_modules``)."""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import nn

import ringlib
from ringlib.compat import StridedKeys, curve_b

from .common import ArgumentError, check_heads, check_pairs, core_config

Tensor = torch.Tensor


def _qkv_forward(module: ringlib.DilatedAttention, q: Tensor, k: Tensor, v: Tensor, is_causal: bool,
                 return_attention_weights: bool):
    out = ringlib.DilatedAttention.forward(module, q, k, v, is_causal=is_causal)
    return (out, None) if return_attention_weights else out


class RingDilatedAttentionHilbertOptimizedFixed(ringlib.DilatedAttention):
    """STRIDED_KEYS: all queries of a tile attend to its rows 0, r, 2r, ...;
    softmax scale ``dim ** -0.5`` where ``dim`` is whatever the caller passed (often the
    model width); ordering ``curve_b`` where it is a permutation. No parameters."""

    def __init__(self, config=None, dim: Optional[int] = None, heads: Optional[int] = None,
                 segment_lengths: Optional[List[int]] = None, dilation_rates: Optional[List[int]] = None,
                 ring_size: Optional[int] = None, dropout: float = 0.0, use_hilbert: bool = True,
                 hilbert_chunk_size: Optional[int] = None, **kwargs):
        dim, heads, segment_lengths, dilation_rates, ring_size, dropout = core_config(
            config, dim, heads, segment_lengths, dilation_rates, ring_size, dropout)
        if config is not None:
            hilbert_chunk_size = getattr(config, "hilbert_chunk_size", None) or hilbert_chunk_size
            use_hilbert = bool(getattr(config, "use_hilbert", False)) or use_hilbert
        if segment_lengths is None or dilation_rates is None:
            raise ValueError("segment_lengths and dilation_rates are required")
        check_pairs(segment_lengths, dilation_rates)
        dim = dim if dim is not None else kwargs.get("head_dim", 64)
        heads = heads if heads is not None else kwargs.get("num_heads", 8)
        for name, value in (("dim", dim), ("heads", heads)):  # dim only sets the scale; heads is kept
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        super().__init__(StridedKeys(segment_lengths, dilation_rates), scale=dim ** -0.5,
                         ordering=curve_b if use_hilbert else None, dropout=dropout)
        self.dim, self.heads = dim, heads
        self.segment_lengths, self.dilation_rates = list(segment_lengths), list(dilation_rates)
        self.ring_size, self.use_hilbert = ring_size or 1, use_hilbert
        self.hilbert_chunk_size = hilbert_chunk_size or max(segment_lengths)

    @classmethod
    def from_config(cls, config, **kwargs):
        return cls(config=config, **kwargs)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, is_causal: bool = False,
                return_attention_weights: bool = False):
        return _qkv_forward(self, q, k, v, is_causal, return_attention_weights)


class _PatternWeights(nn.Module):
    """Per-pattern projections of the old Triton kernel: loaded from checkpoints, unused."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.qkv_proj = nn.Linear(dim, 3 * dim, bias=False)
        self.out_proj = nn.Linear(dim, dim, bias=False)


class RingDilatedAttentionHilbertCoreFixed(ringlib.DilatedAttention):
    """LongNet dilated attention (intended), snake ordering per segment when
    ``use_hilbert``; the old ``hilbert_modules.*`` weights exist only so checkpoints load."""

    def __init__(self, config=None, dim: Optional[int] = None, heads: Optional[int] = None,
                 segment_lengths: Optional[List[int]] = None, dilation_rates: Optional[List[int]] = None,
                 ring_size: Optional[int] = None, dropout: float = 0.0, use_hilbert: bool = True,
                 use_custom_backward: bool = True, **kwargs):
        dim, heads, segment_lengths, dilation_rates, ring_size, dropout = core_config(
            config, dim, heads, segment_lengths, dilation_rates, ring_size, dropout)
        segment_lengths = segment_lengths or [2048, 4096, 8192]
        dilation_rates = dilation_rates or [1, 2, 4]
        check_heads(dim, heads, names=("dim", "heads"), error=ArgumentError)
        check_pairs(segment_lengths, dilation_rates)
        super().__init__(ringlib.Dilated(segment_lengths, dilation_rates), ordering="snake" if use_hilbert else None,
                         dropout=dropout)
        self.hilbert_modules = nn.ModuleList(_PatternWeights(dim) for _ in segment_lengths)
        self.dim, self.heads = dim, heads
        self.segment_lengths, self.dilation_rates = list(segment_lengths), list(dilation_rates)
        self.ring_size, self.use_hilbert, self.use_custom_backward = ring_size or 1, use_hilbert, use_custom_backward

    @classmethod
    def from_config(cls, config, **kwargs):
        raise NotImplementedError("Subclasses must implement from_config")

    def forward(self, q: Tensor, k: Tensor, v: Tensor, is_causal: bool = False,
                return_attention_weights: bool = False):
        return _qkv_forward(self, q, k, v, is_causal, return_attention_weights)
