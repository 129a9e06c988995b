"""The old ``dynamic_dilated_attention`` module: dilated attention whose segment lengths are
chosen at the first forward (and again when the sequence length no longer divides them).

The choice is the old ``utils.dynamic_segment_selector.DynamicSegmentSelector`` (its shim in
``_impl.utils``): candidate geometric segment ladders are kept only where their estimated peak
memory fits the free GPU memory; with none fitting (always on CPU) one segment of
``min(min_segment_size, seq_len)`` with rate 1 is used. The attention itself is the old
``ImprovedDilatedAttention`` (default) or ``DilatedAttention`` shim, both on ringlib.
"""

from __future__ import annotations

import warnings
from typing import List, Optional, Tuple

import torch
from torch import nn

from .base_modules import DilatedAttention, ImprovedDilatedAttention
from .utils import DynamicSegmentSelector, SegmentSelectionConfig

Tensor = torch.Tensor


class DynamicDilatedAttention(nn.Module):
    """Dilated attention on ``(batch, seq, heads, head_dim)`` q, k, v with segment lengths
    picked from the input shape; ``need_weights=True`` also returns the old placeholder
    weights (uniform ``1 / seq_len``)."""

    def __init__(self, min_segment_size: int = 512, max_segment_size: int = 65536, selector_config=None,
                 fallback_segments: Optional[List[int]] = None, improved: bool = True, **kwargs) -> None:
        super().__init__()
        if selector_config is None:
            selector_config = SegmentSelectionConfig(min_segment_size=min_segment_size,
                                                     max_segment_size=max_segment_size)
        self.selector = DynamicSegmentSelector(selector_config)
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
                segments = list(segments)  # fitted below: the selector's cached choice stays as chosen
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


__all__ = ["DynamicDilatedAttention", "DynamicMultiheadDilatedAttention", "create_dynamic_dilated_attention"]
