"""The old x -> x classes with a fused q/k/v projection.

Each is a ``ringlib.MultiheadDilatedAttention`` configured with the profile the old class
computed (REGIONS, FIRST_SEGMENT or DENSE); the subclasses only restate the old
constructor and forward signatures, defaults, validation and return conventions.
"""

from __future__ import annotations

from typing import List, Optional

import torch
import torch.distributed as dist
from torch import nn

import ringlib
from ringlib.compat import FirstSegment, Regions

from .common import (ArgumentError, SnakeIndices, check_heads, check_pairs, core_config, cuda_if_available,
                     float_input, optimal_a, optimal_b, resolve_device, warn_ignored, world)

Tensor = torch.Tensor


def _regions(segment_lengths, dilation_rates) -> ringlib.Pattern:
    """REGIONS; empty (length-0) regions are dropped, they hold no position."""
    for s, r in zip(segment_lengths, dilation_rates):
        if s < 0 or r < 1:
            raise ValueError(f"segment lengths must be >= 0 and dilation rates >= 1, got "
                             f"{list(segment_lengths)} and {list(dilation_rates)}")
    kept = [(s, r) for s, r in zip(segment_lengths, dilation_rates) if s > 0]
    if not kept:
        raise ValueError("at least one segment length must be positive")
    return Regions([s for s, _ in kept], [r for _, r in kept])


def _check(embed_dim: int, num_heads: int, segment_lengths=(), dilation_rates=()) -> None:
    """The old asserted checks (``ArgumentError`` is also an ``AssertionError``)."""
    check_heads(embed_dim, num_heads, error=ArgumentError)
    check_pairs(segment_lengths, dilation_rates)


class _FusedX(ringlib.MultiheadDilatedAttention, SnakeIndices):
    """Shared machinery: old device/dtype handling, input casting, distributed contracts."""

    #: distributed contract: "SPLIT" (full x in, own rows out), "FULL", "LOCAL"
    contract = "SPLIT"

    def _setup(self, embed_dim: int, num_heads: int, pattern: ringlib.Pattern, *, bias: bool, dropout: float,
               output_dropout: float, ordering, device, dtype, on_device: bool) -> None:
        factory = {"device": device, "dtype": dtype} if on_device else {}
        ringlib.MultiheadDilatedAttention.__init__(
            self, embed_dim, num_heads, pattern, bias=bias, dropout=dropout, output_dropout=output_dropout,
            ordering=ordering, **factory)
        if not on_device and (device is not None or dtype is not None):
            self.to(device=device, dtype=dtype)  # created on CPU then moved
        self.scale = self.head_dim ** -0.5
        self.world_size, self.rank = world()
        self.dropout_layer = self.output_dropout

    def _setup_regions(self, embed_dim: int, num_heads: int, segment_lengths, dilation_rates, dropout: float,
                       bias: bool, use_hilbert: bool, device, dtype) -> None:
        """The REGIONS module of ``RingDilatedAttentionCorrect`` (and ``...HilbertOptimizedCorrect``):
        checks, device and dtype defaults, snake ordering iff ``use_hilbert``, and the old attributes."""
        _check(embed_dim, num_heads, segment_lengths, dilation_rates)
        device = resolve_device(device)
        dtype = dtype or optimal_a(device)
        self._setup(embed_dim, num_heads, _regions(segment_lengths, dilation_rates), bias=bias, dropout=dropout,
                    output_dropout=dropout, ordering="snake" if use_hilbert else None, device=device, dtype=dtype,
                    on_device=False)
        self.segment_lengths, self.dilation_rates = segment_lengths, dilation_rates
        self.dropout, self.use_hilbert, self.device, self.dtype = dropout, use_hilbert, device, dtype

    @property
    def param_dtype(self) -> torch.dtype:
        return self.qkv_proj.weight.dtype

    def forward(self, x: Tensor, total_seq_len: Optional[int] = None, is_causal: bool = False,
                need_weights: bool = False, already_split: bool = False):
        """The old signature that V3 and the Hilbert core / optimized classes shared;
        the other classes override it with their own."""
        out = self._forward(x, is_causal=is_causal, total_seq_len=total_seq_len, already_split=already_split)
        return (out, None) if need_weights else out

    def _forward(self, x: Tensor, *, is_causal: bool, total_seq_len: Optional[int] = None,
                 already_split: bool = False, distributed: bool = True) -> Tensor:
        x = float_input("x", x, self.param_dtype)  # the old classes crashed on a mismatch
        group = None
        if distributed and self.world_size > 1 and self.contract == "SPLIT":
            group = dist.group.WORLD
            if already_split:
                expected = x.shape[1] * self.world_size
                if total_seq_len is not None and total_seq_len != expected:
                    raise ValueError(f"total_seq_len ({total_seq_len}) must equal world_size * local length "
                                     f"({expected})")
            else:
                n = x.shape[1]
                if n % self.world_size:
                    raise ArgumentError(f"x: sequence length {n} must be divisible by the world size "
                                        f"{self.world_size}")
                local = n // self.world_size
                x = x[:, self.rank * local:(self.rank + 1) * local]
        self.attention.group = group
        return ringlib.MultiheadDilatedAttention.forward(self, x, is_causal=is_causal)


class RingDilatedAttentionCorrect(_FusedX):
    """REGIONS; distributed: each rank passes its shard (SHARD)."""

    def __init__(self, embed_dim: int, num_heads: int, segment_lengths: List[int], dilation_rates: List[int],
                 dropout: float = 0.0, bias: bool = True, use_hilbert: bool = True,
                 device: Optional[torch.device] = None, dtype: Optional[torch.dtype] = None):
        self._setup_regions(embed_dim, num_heads, segment_lengths, dilation_rates, dropout, bias, use_hilbert,
                            device, dtype)
        self.attention_backend = "ringlib"

    def forward(self, x_local: Tensor, total_seq_len: Optional[int] = None, is_causal: bool = False,
                need_weights: bool = False):
        out = self._forward(x_local, is_causal=is_causal, total_seq_len=total_seq_len, already_split=True)
        return (out, None) if need_weights else out


class RingAttentionWrapper(nn.Module):
    """Wraps a ``RingDilatedAttentionCorrect`` as ``.attention``: old
    checkpoints carry the ``attention.`` prefix."""

    def __init__(self, embed_dim: int, num_heads: int, segment_lengths: List[int], dilation_rates: List[int],
                 **kwargs):
        super().__init__()
        self.attention = RingDilatedAttentionCorrect(embed_dim=embed_dim, num_heads=num_heads,
                                                     segment_lengths=segment_lengths,
                                                     dilation_rates=dilation_rates, **kwargs)
        self.world_size, self.rank = world()

    def forward(self, x: Tensor, is_causal: bool = False, need_weights: bool = False, pre_split: bool = False):
        if self.world_size == 1 or pre_split:
            return self.attention(x, is_causal=is_causal, need_weights=need_weights)
        out = self.attention._forward(x, is_causal=is_causal, total_seq_len=x.shape[1], already_split=False)
        return (out, None) if need_weights else out


class RingDilatedAttentionV3(_FusedX):
    """FIRST_SEGMENT, variant v3; ``use_hilbert`` has no effect."""

    def __init__(self, embed_dim: int, num_heads: int, segment_lengths: List[int], dilation_rates: List[int],
                 dropout: float = 0.0, bias: bool = True, use_hilbert: bool = True,
                 device: Optional[torch.device] = None, dtype: Optional[torch.dtype] = None):
        _check(embed_dim, num_heads, segment_lengths, dilation_rates)
        device = resolve_device(device)
        dtype = dtype or torch.float32
        self._setup(embed_dim, num_heads, FirstSegment(segment_lengths, dilation_rates, variant="v3"), bias=bias,
                    dropout=dropout, output_dropout=dropout, ordering=None, device=device, dtype=dtype,
                    on_device=False)
        self.segment_lengths, self.dilation_rates = segment_lengths, dilation_rates
        self.dropout, self.use_hilbert, self.device, self.dtype = dropout, use_hilbert, device, dtype


class RingDilatedAttentionSDPA(_FusedX):
    """FIRST_SEGMENT, variant sdpa; input cast to ``self.dtype``."""

    def __init__(self, embed_dim: int, num_heads: int, segment_lengths: List[int], dilation_rates: List[int],
                 dropout: float = 0.0, bias: bool = True, device: Optional[torch.device] = None,
                 dtype: Optional[torch.dtype] = None):
        _check(embed_dim, num_heads, segment_lengths, dilation_rates)
        device = resolve_device(device)
        dtype = dtype or optimal_b(device)
        self._setup(embed_dim, num_heads, FirstSegment(segment_lengths, dilation_rates, variant="sdpa"),
                    bias=bias, dropout=dropout, output_dropout=dropout, ordering=None, device=device, dtype=dtype,
                    on_device=False)
        self.segment_lengths, self.dilation_rates = segment_lengths, dilation_rates
        self.dropout, self.device, self.dtype = dropout, device, dtype

    def forward(self, x: Tensor, total_seq_len: Optional[int] = None, is_causal: bool = False,
                already_split: bool = False) -> Tensor:
        return self._forward(x, is_causal=is_causal, total_seq_len=total_seq_len, already_split=already_split)


class RingDilatedAttentionFixedSimple(_FusedX):
    """DENSE, non-causal: no segment lists, no bias switch, no ``is_causal``."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0,
                 device: Optional[torch.device] = None, dtype: Optional[torch.dtype] = None):
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
            raise TypeError(f"dropout must be a float, got {type(dropout).__name__} (this class takes no "
                            "segment_lengths / dilation_rates)")
        _check(embed_dim, num_heads)
        device = resolve_device(device)
        dtype = dtype or torch.float32
        self._setup(embed_dim, num_heads, ringlib.Dense(), bias=True, dropout=dropout, output_dropout=dropout,
                    ordering=None, device=device, dtype=dtype, on_device=False)
        self.dropout = nn.Dropout(dropout)  # a module here, unlike the other classes
        self.device, self.dtype = device, dtype

    def forward(self, x: Tensor, total_seq_len: Optional[int] = None, already_split: bool = False) -> Tensor:
        return self._forward(x, is_causal=False, total_seq_len=total_seq_len, already_split=already_split)


class RingDilatedAttentionMemoryEfficient(_FusedX):
    """DENSE; segment lists accepted and ignored."""

    def __init__(self, embed_dim: int, num_heads: int, segment_lengths: Optional[List[int]] = None,
                 dilation_rates: Optional[List[int]] = None, dropout: float = 0.0, bias: bool = True,
                 device: Optional[torch.device] = None, dtype: Optional[torch.dtype] = None):
        _check(embed_dim, num_heads)
        device = resolve_device(device)
        dtype = dtype or torch.float32
        self._setup(embed_dim, num_heads, ringlib.Dense(), bias=bias, dropout=dropout, output_dropout=dropout,
                    ordering=None, device=device, dtype=dtype, on_device=False)
        self.segment_lengths, self.dilation_rates = segment_lengths or [None], dilation_rates or [1]
        self.dropout, self.device, self.dtype = dropout, device, dtype

    def forward(self, x: Tensor, total_seq_len: Optional[int] = None, is_causal: bool = False,
                already_split: bool = False) -> Tensor:
        return self._forward(x, is_causal=is_causal, total_seq_len=total_seq_len, already_split=already_split)


class RingDilatedAttentionHilbertProper(_FusedX):
    """REGIONS; parameters created on ``device``; ``attn_mask`` ignored."""

    contract = "FULL"

    def __init__(self, embed_dim: int, num_heads: int, segment_lengths: List[int], dilation_rates: List[int],
                 dropout: float = 0.0, bias: bool = True, ring_size: Optional[int] = None, use_hilbert: bool = True,
                 device: Optional[torch.device] = None, dtype: Optional[torch.dtype] = None):
        _check(embed_dim, num_heads, segment_lengths, dilation_rates)
        self._setup(embed_dim, num_heads, _regions(segment_lengths, dilation_rates), bias=bias, dropout=dropout,
                    output_dropout=dropout, ordering="snake" if use_hilbert else None, device=device, dtype=dtype,
                    on_device=True)
        self.segment_lengths, self.dilation_rates = segment_lengths, dilation_rates
        self.dropout, self.use_hilbert = dropout, use_hilbert
        self.ring_size = ring_size if ring_size is not None else self.world_size
        self.is_distributed = self.world_size > 1 and self.ring_size > 1
        self.device, self.dtype = self.qkv_proj.weight.device, self.qkv_proj.weight.dtype

    def forward(self, x: Tensor, attn_mask: Optional[Tensor] = None, is_causal: bool = False,
                need_weights: bool = False):
        if attn_mask is not None:
            warn_ignored(f"{type(self).__name__} ignores attn_mask")
        out = self._forward(x, is_causal=is_causal)
        return (out, None) if need_weights else out


class RingDilatedAttentionHilbertGPUOptimized(RingDilatedAttentionHilbertProper):
    """As ``RingDilatedAttentionHilbertProper``, with the old GPU defaults
    (cuda if available, bf16/fp16) and the input cast to ``self.dtype``."""

    def __init__(self, embed_dim: int, num_heads: int, segment_lengths: List[int], dilation_rates: List[int],
                 dropout: float = 0.0, bias: bool = True, ring_size: Optional[int] = None, use_hilbert: bool = True,
                 device: Optional[torch.device] = None, dtype: Optional[torch.dtype] = None,
                 attention_backend: Optional[str] = None, benchmark_backends: bool = False):
        device = resolve_device(device)
        dtype = dtype or optimal_a(device)
        super().__init__(embed_dim, num_heads, segment_lengths, dilation_rates, dropout, bias, ring_size,
                         use_hilbert, device, dtype)
        if attention_backend is None:  # the old automatic choice, informational only
            if any(r > 1 for r in dilation_rates):
                attention_backend = "sdpa_with_mask"
            else:
                attention_backend = "manual" if max(segment_lengths) < 128 else "sdpa"
        self.attention_backend = attention_backend
        self.benchmark_backends = benchmark_backends


class _HilbertCoreWeights(nn.Module):
    """The old ``hilbert_core`` submodule: two bias-free projections that forward never used,
    kept so that old checkpoints load."""

    def __init__(self, embed_dim: int) -> None:
        super().__init__()
        self.qkv_proj = nn.Linear(embed_dim, 3 * embed_dim, bias=False)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=False)


class RingDilatedAttentionHilbertCore(_FusedX):
    """REGIONS without ordering: ``dim``/``heads`` keywords, optional duck-typed
    ``config``, unused ``hilbert_core.*`` weights."""

    def __init__(self, config=None, dim: Optional[int] = None, heads: Optional[int] = None,
                 segment_lengths: Optional[List[int]] = None, dilation_rates: Optional[List[int]] = None,
                 ring_size: Optional[int] = None, dropout: float = 0.0, use_hilbert: bool = True,
                 use_custom_backward: bool = True, **kwargs):
        dim, heads, segment_lengths, dilation_rates, ring_size, attention_dropout = core_config(
            config, dim, heads, segment_lengths, dilation_rates, ring_size, dropout)
        segment_lengths = segment_lengths or [2048, 4096, 8192]
        dilation_rates = dilation_rates or [1, 2, 4]
        check_heads(dim, heads, names=("dim", "heads"), error=ArgumentError)
        check_pairs(segment_lengths, dilation_rates)
        device = cuda_if_available()
        dtype = optimal_b(device)
        hilbert_core = _HilbertCoreWeights(dim)  # created first: the old parameter order
        self._setup(dim, heads, _regions(segment_lengths, dilation_rates), bias=True, dropout=attention_dropout,
                    output_dropout=dropout, ordering=None, device=None, dtype=None, on_device=False)
        self.hilbert_core = hilbert_core
        self.to(device=device, dtype=dtype)
        self.dim, self.heads = dim, heads
        self.segment_lengths, self.dilation_rates = segment_lengths, dilation_rates
        self.ring_size, self.dropout = ring_size or 1, attention_dropout
        self.use_hilbert, self.use_custom_backward = use_hilbert, use_custom_backward
        self.device, self.dtype = device, dtype

    @classmethod
    def from_config(cls, config, **kwargs):
        raise NotImplementedError("Subclasses must implement from_config")


class RingDilatedAttentionHilbertOptimizedCorrect(_FusedX):
    """REGIONS; ``memory_efficient=False`` computes locally when distributed."""

    def __init__(self, embed_dim: int, num_heads: int, segment_lengths: List[int], dilation_rates: List[int],
                 dropout: float = 0.0, bias: bool = True, use_hilbert: bool = True,
                 device: Optional[torch.device] = None, dtype: Optional[torch.dtype] = None,
                 attention_backend: Optional[str] = None, benchmark_backends: bool = False,
                 memory_efficient: bool = True):
        self._setup_regions(embed_dim, num_heads, segment_lengths, dilation_rates, dropout, bias, use_hilbert,
                            device, dtype)
        self.contract = "SPLIT" if memory_efficient else "LOCAL"
        self.attention_backend, self.benchmark_backends = attention_backend, benchmark_backends
        self.memory_efficient = memory_efficient


class RingDilatedAttentionHilbertOptimizedFixedV2(_FusedX):
    """DENSE: segment lists checked and ignored; default dropout 0.1."""

    def __init__(self, embed_dim: int, num_heads: int, segment_lengths: list, dilation_rates: list,
                 dropout: float = 0.1, use_hilbert: bool = True, bias: bool = True,
                 device: Optional[torch.device] = None, dtype: Optional[torch.dtype] = None,
                 attention_backend: Optional[str] = None, memory_efficient: bool = True):
        _check(embed_dim, num_heads, segment_lengths, dilation_rates)
        device = resolve_device(device)
        dtype = dtype or torch.float32
        self._setup(embed_dim, num_heads, ringlib.Dense(), bias=bias, dropout=dropout, output_dropout=dropout,
                    ordering=None, device=device, dtype=dtype, on_device=False)
        from .comm import RingCommunicator

        self.contract = "SPLIT" if memory_efficient else "LOCAL"
        self.segment_lengths, self.dilation_rates = segment_lengths, dilation_rates
        self.dropout, self.use_hilbert, self.device, self.dtype = dropout, use_hilbert, device, dtype
        self.attention_backend, self.memory_efficient = attention_backend, memory_efficient
        self.ring_comm = RingCommunicator()
