"""The old ``dynamic_dilated_attention`` module: dilated attention whose segment lengths are
chosen at the first forward (and again when the sequence length no longer divides them).

The choice follows the old selector: candidate geometric segment ladders are kept only where
their estimated peak memory fits the free GPU memory; with none fitting (always on CPU) one
segment of ``min(min_segment_size, seq_len)`` with rate 1 is used. Dilation rates are 1, 2,
4, ... The attention itself is the old ``ImprovedDilatedAttention`` (default) or
``DilatedAttention`` shim, both on ringlib.
"""

from __future__ import annotations

import warnings
from typing import List, Optional, Tuple

import torch
from torch import nn

from .base_modules import DilatedAttention, ImprovedDilatedAttention

Tensor = torch.Tensor

_SELECTION_DEFAULTS = dict(min_segment_size=512, max_segment_size=65536, memory_safety_factor=0.8,
                           min_free_memory_gb=0.5, base_segment_size=2048, max_num_segments=5,
                           prefer_power_of_2=True, align_to_block_size=True, gpu_block_sizes=None)
_BLOCK_SIZES = {"H100": 256, "H200": 256, "A100": 128, "A10": 128, "V100": 64, "default": 64}


def _nearest_power_of_2(value: int) -> int:
    if value <= 0:
        return 1
    upper = 1 << (value - 1).bit_length()
    return upper // 2 if upper - value > value - upper // 2 else upper


def _free_gpu_gb() -> Tuple[float, str, Tuple[int, int]]:
    if not torch.cuda.is_available():
        return 0.0, "CPU", (0, 0)
    device = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(device)
    return torch.cuda.mem_get_info(device)[0] / 1e9, props.name, (props.major, props.minor)


def _peak_gb(segments: List[int], batch: int, heads: int, head_dim: int, dtype: torch.dtype) -> float:
    width = torch.finfo(dtype).bits // 8
    per = [(4 * batch * s * heads * head_dim + batch * heads * s * s) * width * 1.2 for s in segments]
    return max(per) / 1e9


def select_segments(config, seq_len: int, batch: int, heads: int, head_dim: int,
                    dtype: torch.dtype) -> Tuple[List[int], List[int]]:
    """Segment lengths and dilation rates for one input shape (the old selector's rule);
    ``config`` is any object with the old ``SegmentSelectionConfig`` fields (missing ones
    take their old defaults)."""
    c = {k: getattr(config, k, v) for k, v in _SELECTION_DEFAULTS.items()}
    free, gpu_name, (major, _) = _free_gpu_gb()
    budget = max(0.0, free * c["memory_safety_factor"] - c["min_free_memory_gb"])
    base = (min(512, seq_len) if seq_len <= 2048 else 1024 if seq_len <= 8192 else 2048 if seq_len <= 32768
            else 4096) or c["base_segment_size"]
    if c["align_to_block_size"]:
        sizes = c["gpu_block_sizes"] or _BLOCK_SIZES
        block = next((b for m, b in sizes.items() if m in gpu_name), None)
        if block is None:
            block = 256 if major >= 9 else 128 if major >= 8 else 64 if major >= 7 else 32
        base = -(-base // block) * block
    if c["prefer_power_of_2"]:
        base = _nearest_power_of_2(base)
    candidates = []
    for ratio in (1.5, 2.0, 2.5, 3.0):
        ladder, current = [], base
        while len(ladder) < c["max_num_segments"] and current <= seq_len and current <= c["max_segment_size"]:
            ladder.append(int(current))
            current = int(current * ratio)
            current = _nearest_power_of_2(current) if c["prefer_power_of_2"] else current
        if ladder:
            candidates.append(ladder)
    count = min(4, seq_len // base) if base else 0
    if count > 0:
        candidates.append([_nearest_power_of_2(seq_len // count)] * count)
    best, best_score = None, float("-inf")
    for ladder in candidates:
        if _peak_gb(ladder, batch, heads, head_dim, dtype) <= budget:
            score = (0.5 * min(1.0, max(ladder) / seq_len) + 0.3 * len(set(ladder)) / len(ladder)
                     + 0.2 / len(ladder))
            if score > best_score:
                best, best_score = ladder, score
    segments = best if best is not None else [min(c["min_segment_size"], seq_len)]
    return segments, [2 ** i for i in range(len(segments))]


class _Selection:
    """The old ``selector`` attribute: the selection rule with a per-shape cache."""

    def __init__(self, config) -> None:
        self.config = config
        self._cache: dict = {}

    def select_segments(self, sequence_length: int, batch_size: int, num_heads: int, head_dim: int,
                        dtype: torch.dtype = torch.float32, content_boundaries=None,
                        force_refresh: bool = False) -> Tuple[List[int], List[int]]:
        key = (sequence_length, batch_size, num_heads)
        if force_refresh or key not in self._cache:
            self._cache[key] = select_segments(self.config, sequence_length, batch_size, num_heads, head_dim,
                                               dtype)[0]
        segments = list(self._cache[key])
        return segments, [2 ** i for i in range(len(segments))]

    def clear_cache(self) -> None:
        self._cache.clear()


class _Config:
    """Stand-in for the old ``SegmentSelectionConfig`` when none is given."""

    def __init__(self, **fields) -> None:
        self.__dict__.update(_SELECTION_DEFAULTS, **fields)


class DynamicDilatedAttention(nn.Module):
    """Dilated attention on ``(batch, seq, heads, head_dim)`` q, k, v with segment lengths
    picked from the input shape; ``need_weights=True`` also returns the old placeholder
    weights (uniform ``1 / seq_len``)."""

    def __init__(self, min_segment_size: int = 512, max_segment_size: int = 65536, selector_config=None,
                 fallback_segments: Optional[List[int]] = None, improved: bool = True, **kwargs) -> None:
        super().__init__()
        if selector_config is None:
            selector_config = _Config(min_segment_size=min_segment_size, max_segment_size=max_segment_size)
        self.selector = _Selection(selector_config)
        self.fallback_segments = fallback_segments or [2048, 4096, 8192]
        self.fallback_dilation_rates = [1, 2, 4]
        self.attention_class = ImprovedDilatedAttention if improved else DilatedAttention
        self.attention_kwargs = kwargs
        self._attention = None
        self._current_segments: Optional[List[int]] = None
        self._current_dilation_rates: Optional[List[int]] = None

    def forward(self, query: Tensor, key: Tensor, value: Tensor, is_causal: bool = False,
                need_weights: bool = False, average_attn_weights: bool = True, force_segment_update: bool = False):
        b, n, h, d = query.shape
        if self._attention is None or force_segment_update or n % max(self._current_segments):
            try:
                segments, rates = self.selector.select_segments(n, b, h, d, query.dtype,
                                                                force_refresh=force_segment_update)
                if not self._fit_last_segment(segments, n):
                    raise ValueError("Invalid segment configuration")
                self._build(segments, rates)
            except Exception as exc:  # the old class fell back with a warning
                warnings.warn(f"Dynamic segment selection failed: {exc}. Using fallback configuration.",
                              stacklevel=2)
                self._build(self.fallback_segments, self.fallback_dilation_rates)
        out = self._attention(query=query, key=key, value=value, is_causal=is_causal)
        if need_weights:
            return out, torch.full((b, h, n, n), 1.0 / n, device=query.device, dtype=query.dtype)
        return out

    @staticmethod
    def _fit_last_segment(segments: List[int], n: int) -> bool:
        """Where ``n`` is not a multiple of the largest segment, the last one becomes the
        largest divisor of ``n`` not above it (as the old class did)."""
        if not segments:
            return False
        largest = max(segments)
        if n % largest:
            segments[-1] = next(s for s in range(largest, 0, -1) if n % s == 0)
        return True

    def _build(self, segments: List[int], rates: List[int]) -> None:
        self._current_segments, self._current_dilation_rates = segments, rates
        # parameter-free: nothing to move to a device
        self._attention = self.attention_class(segment_lengths=segments, dilation_rates=rates, **self.attention_kwargs)

    def get_current_configuration(self) -> Tuple[List[int], List[int]]:
        return self._current_segments or [], self._current_dilation_rates or []

    def clear_cache(self) -> None:
        self.selector.clear_cache()


class DynamicMultiheadDilatedAttention(nn.Module):
    """``nn.MultiheadAttention``-like wrapper of ``DynamicDilatedAttention``: returns
    ``(out, weights)`` (placeholder weights unless ``need_weights=False``)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 selector_config=None, **kwargs) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.attention = DynamicDilatedAttention(selector_config=selector_config, dropout=dropout, **kwargs)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Optional[Tensor] = None,
                need_weights: bool = True, attn_mask: Optional[Tensor] = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        seq_first = query.dim() == 3 and query.shape[0] != key.shape[0]  # the old layout guess
        if seq_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        b, n, _ = query.shape
        heads = (b, n, self.num_heads, self.head_dim)
        q, k, v = self.q_proj(query).view(heads), self.k_proj(key).view(heads), self.v_proj(value).view(heads)
        result = self.attention(q, k, v, is_causal=is_causal, need_weights=need_weights,
                                average_attn_weights=average_attn_weights)
        out, weights = result if need_weights else (result, None)
        out = self.out_proj(out.reshape(b, n, self.embed_dim))
        return (out.transpose(0, 1) if seq_first else out), weights

    def get_current_configuration(self) -> Tuple[List[int], List[int]]:
        return self.attention.get_current_configuration()


def create_dynamic_dilated_attention(attention_type: str = "improved", selector_config=None,
                                     **kwargs) -> DynamicDilatedAttention:
    """``"improved"`` (default) or anything else (the old base ``DilatedAttention``)."""
    return DynamicDilatedAttention(selector_config=selector_config, improved=attention_type.lower() == "improved",
                                   **kwargs)


__all__ = ["DynamicDilatedAttention", "DynamicMultiheadDilatedAttention", "create_dynamic_dilated_attention",
           "select_segments"]
