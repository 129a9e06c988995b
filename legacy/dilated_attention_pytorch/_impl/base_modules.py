"""The old ``base`` package: ``DilatedAttention``, ``ImprovedDilatedAttention`` and their
multihead wrappers, the distributed and head-parallel variants, on ringlib.

What the old classes computed (recorded in ``tests/legacy/recordings/models``):

* ``DilatedAttention``: heads split into one group per (segment, rate) pair; group ``i``
  attends inside each segment among rows ``i % r, i % r + r, ...``; the sum is divided by the
  group count -- ``ringlib.Dilated(..., mixing="head_groups")``. ``softmax_scale`` only
  reached the xFormers path (``op`` given); dropout acted on the attention probabilities and
  again on the output.
* ``ImprovedDilatedAttention``: the same rows, but the old code handed ``(batch*segments,
  rows, heads, head_dim)`` tensors to ``scaled_dot_product_attention``, which attends over the
  second-to-last axis: each selected position attended across the heads of its group. The
  shim keeps that ("preserve") with ``ringlib.compat.HeadAxis``, the canonical core of that
  computation; ``ringlib.Dilated(..., mixing="head_groups")`` is the intended replacement.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

import ringlib

from .common import warn_ignored, world

Tensor = torch.Tensor


# ---------------------------------------------------------------------------------------------
# checks the old base class made before every forward


def check_lists(segment_lengths: Sequence[int], dilation_rates: Sequence[int], dropout: float) -> None:
    if len(segment_lengths) != len(dilation_rates):
        raise ValueError(f"segment_lengths ({len(segment_lengths)}) and dilation_rates ({len(dilation_rates)}) "
                         "must have the same length")
    for name, values in (("segment_lengths", segment_lengths), ("dilation_rates", dilation_rates)):
        if not values or any(int(v) <= 0 for v in values):
            raise ValueError(f"{name} must be a non-empty list of positive integers, got {list(values)}")
    if not 0.0 <= dropout <= 1.0:
        raise ValueError(f"dropout must be in [0, 1], got {dropout}")


def check_qkv(q: Tensor, k: Tensor, v: Tensor, segment_lengths: Sequence[int]) -> None:
    for name, t in (("query", q), ("key", k), ("value", v)):
        if t.dim() != 4:
            raise ValueError(f"{name} must be 4-D (batch, seq_len, num_heads, head_dim), got shape {tuple(t.shape)}")
    if not (q.shape == k.shape == v.shape):
        raise ValueError(f"query, key and value shapes must match, got {tuple(q.shape)}, {tuple(k.shape)}, "
                         f"{tuple(v.shape)}")
    if not (q.dtype == k.dtype == v.dtype) or not (q.device == k.device == v.device):
        raise ValueError("query, key and value must share dtype and device")
    n, largest = q.shape[1], max(segment_lengths)
    if n % largest:
        raise ValueError(f"Sequence length ({n}) must be divisible by the largest segment length ({largest}); "
                         f"pad the sequence to {(n // largest + 1) * largest}")
    if q.shape[2] < len(segment_lengths):
        raise ValueError(f"num_heads ({q.shape[2]}) must be >= num_groups ({len(segment_lengths)})")


class _GroupedBase(nn.Module):
    """Attributes and output dropout shared by the two old q, k, v classes."""

    def _setup(self, segment_lengths, dilation_rates, dropout: float) -> None:
        check_lists(segment_lengths, dilation_rates, dropout)
        self.segment_lengths, self.dilation_rates = list(segment_lengths), list(dilation_rates)
        self.num_groups = len(self.segment_lengths)
        self.dropout_layer = nn.Dropout(dropout) if dropout > 0 else None

    def _output_dropout(self, out: Tensor) -> Tensor:
        return self.dropout_layer(out) if self.dropout_layer is not None and self.training else out

    def _mask_ignored(self, attention_mask) -> None:
        if attention_mask is not None:
            warn_ignored(f"{type(self).__name__}: attention_mask is ignored inside dilated segments")

    def extra_repr(self) -> str:
        return (f"segment_lengths={self.segment_lengths}, dilation_rates={self.dilation_rates}, "
                f"dropout={self.dropout}")


class DilatedAttention(_GroupedBase, ringlib.DilatedAttention):
    """The old base ``DilatedAttention``: ``ringlib.Dilated(..., mixing="head_groups")``."""

    def __init__(self, segment_lengths: Sequence[int], dilation_rates: Sequence[int],
                 softmax_scale: Optional[float] = None, attention_dropout: float = 0.0, op=None,
                 enable_memory_pool: bool = False, enable_profiling: bool = False, lightweight_pool: bool = True,
                 **kwargs) -> None:
        check_lists(segment_lengths, dilation_rates, attention_dropout)
        # softmax_scale reached only the xFormers kernel (``op`` given); elsewhere head_dim ** -0.5
        ringlib.DilatedAttention.__init__(
            self, ringlib.Dilated(segment_lengths, dilation_rates, mixing="head_groups"),
            scale=softmax_scale if op is not None else None, dropout=attention_dropout)
        self._setup(segment_lengths, dilation_rates, attention_dropout)
        self.softmax_scale, self.op = softmax_scale, op
        self.enable_memory_pool, self.lightweight_pool = enable_memory_pool, lightweight_pool
        self.device, self.dtype = kwargs.get("device"), kwargs.get("dtype")

    def forward(self, query: Tensor, key: Tensor, value: Tensor, is_causal: bool = False,
                attention_mask: Optional[Tensor] = None) -> Tensor:
        check_qkv(query, key, value, self.segment_lengths)
        self._mask_ignored(attention_mask)
        out = ringlib.DilatedAttention.forward(self, query, key, value, is_causal=is_causal)
        return self._output_dropout(out)


def create_dilated_attention(segment_lengths: Sequence[int], dilation_rates: Sequence[int],
                             **kwargs) -> DilatedAttention:
    """``base.create_dilated_attention``: the old base ``DilatedAttention``."""
    return DilatedAttention(segment_lengths, dilation_rates, **kwargs)


class ImprovedDilatedAttention(_GroupedBase, ringlib.DilatedAttention):
    """The old ``ImprovedDilatedAttention``: ``ringlib.compat.HeadAxis`` (attention across the
    heads of a group at each selected position, as the old code computed it)."""

    def __init__(self, segment_lengths: Sequence[int], dilation_rates: Sequence[int], dropout: float = 0.0,
                 use_tf32: bool = True, enable_memory_pool: bool = False, enable_profiling: bool = False,
                 lightweight_pool: bool = True, **kwargs) -> None:
        for unknown in set(kwargs) - {"device", "dtype"}:
            raise TypeError(f"ImprovedDilatedAttention got an unexpected keyword argument {unknown!r}")
        check_lists(segment_lengths, dilation_rates, dropout)
        ringlib.DilatedAttention.__init__(self, ringlib.compat.HeadAxis(segment_lengths, dilation_rates),
                                          dropout=dropout)
        self._setup(segment_lengths, dilation_rates, dropout)
        self.use_tf32 = use_tf32
        self.enable_memory_pool, self.lightweight_pool = enable_memory_pool, lightweight_pool
        self.device, self.dtype = kwargs.get("device"), kwargs.get("dtype")

    def forward(self, query: Tensor, key: Tensor, value: Tensor, is_causal: bool = False,
                attention_mask: Optional[Tensor] = None) -> Tensor:
        check_qkv(query, key, value, self.segment_lengths)
        self._mask_ignored(attention_mask)
        out = ringlib.DilatedAttention.forward(self, query, key, value, is_causal=is_causal)
        return self._output_dropout(out)


def create_improved_dilated_attention(segment_lengths: Sequence[int], dilation_rates: Sequence[int],
                                      **kwargs) -> ImprovedDilatedAttention:
    return ImprovedDilatedAttention(segment_lengths, dilation_rates, **kwargs)


# ---------------------------------------------------------------------------------------------
# multihead wrappers (MAGNETO initialisation and layer norms of the old base class)


def _magneto(linear: nn.Linear, gain: float) -> None:
    nn.init.xavier_normal_(linear.weight, gain=gain)
    if linear.bias is not None:
        nn.init.zeros_(linear.bias)


def _check_multihead(embed_dim: int, num_heads: int, layer_norm_eps: float, gamma_init: float) -> int:
    if embed_dim <= 0:
        raise ValueError(f"embed_dim must be positive, got {embed_dim}")
    if num_heads <= 0 or embed_dim % num_heads:
        raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
    if layer_norm_eps <= 0:
        raise ValueError(f"layer_norm_eps must be positive, got {layer_norm_eps}")
    if gamma_init <= 0:
        raise ValueError(f"gamma_init must be positive, got {gamma_init}")
    return embed_dim // num_heads


def _check_x(query: Tensor, key: Tensor, value: Tensor, embed_dim: int) -> None:
    if query.dim() != 3 or key.dim() != 3 or value.dim() != 3:
        raise ValueError(f"Expected 3D tensors (batch, seq_len, embed_dim), got shapes: query={tuple(query.shape)}, "
                         f"key={tuple(key.shape)}, value={tuple(value.shape)}")
    if key.shape[:2] != query.shape[:2] or value.shape[:2] != query.shape[:2]:
        raise ValueError("Batch size and sequence length must match for query, key, value")
    if query.shape[2] != embed_dim:
        raise ValueError(f"Input embedding dimension ({query.shape[2]}) doesn't match expected ({embed_dim})")


class _MultiheadBase(nn.Module):
    """Old ``BaseMultiheadDilatedAttention``: attribute names, layer norms, parameter order."""

    def _setup(self, embed_dim, num_heads, segment_lengths, dilation_rates, dropout, bias, layer_norm,
               layer_norm_eps, gamma_init, device, dtype, attention: nn.Module, fused: bool) -> None:
        self.head_dim = _check_multihead(embed_dim, num_heads, layer_norm_eps, gamma_init)
        self.embed_dim, self.num_heads, self.bias = embed_dim, num_heads, bias
        self.segment_lengths, self.dilation_rates, self.dropout = list(segment_lengths), list(dilation_rates), dropout
        self.layer_norm, self.layer_norm_eps, self.gamma_init = layer_norm, layer_norm_eps, gamma_init
        self.device, self.dtype = device, dtype
        factory = {"device": device, "dtype": dtype}
        self.attention = attention
        if fused:
            self.qkv_proj = nn.Linear(embed_dim, 3 * embed_dim, bias=bias, **factory)
        else:
            self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
            self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
            self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        if layer_norm:
            self.q_ln = nn.LayerNorm(embed_dim, eps=layer_norm_eps, **factory)
            self.k_ln = nn.LayerNorm(embed_dim, eps=layer_norm_eps, **factory)
        else:
            self.q_ln = self.k_ln = None

    def _inputs(self, query: Tensor, key: Optional[Tensor], value: Optional[Tensor], attn_mask,
                key_padding_mask) -> tuple[Tensor, Tensor]:
        """``key`` and ``value`` (``query`` where None), checked; warns that the masks are ignored."""
        key = query if key is None else key
        value = query if value is None else value
        _check_x(query, key, value, self.embed_dim)
        if attn_mask is not None or key_padding_mask is not None:
            warn_ignored(f"{type(self).__name__}: attn_mask / key_padding_mask are ignored inside dilated segments")
        return key, value

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, bias={self.bias}, layer_norm={self.layer_norm}"


class MultiheadDilatedAttention(_MultiheadBase):
    """The old ``MultiheadDilatedAttention``: separate q/k/v projections, LayerNorm on q and
    k and again on the attention output (MAGNETO), the old ``DilatedAttention`` inside."""

    def __init__(self, embed_dim: int, num_heads: int, dilation_rates: Sequence[int], segment_lengths: Sequence[int],
                 dropout: float = 0.0, bias: bool = True, layer_norm: bool = True, layer_norm_eps: float = 1e-5,
                 gamma_init: float = 1.0, device=None, dtype=None, op=None) -> None:
        super().__init__()
        attention = DilatedAttention(segment_lengths, dilation_rates, attention_dropout=dropout, op=op)
        self._setup(embed_dim, num_heads, segment_lengths, dilation_rates, dropout, bias, layer_norm,
                    layer_norm_eps, gamma_init, device, dtype, attention, fused=False)
        self.op = op
        for linear in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            _magneto(linear, gamma_init)

    def forward(self, query: Tensor, key: Optional[Tensor] = None, value: Optional[Tensor] = None,
                key_padding_mask: Optional[Tensor] = None, need_weights: bool = False,
                attn_mask: Optional[Tensor] = None, is_causal: bool = False, average_attn_weights: bool = True):
        key, value = self._inputs(query, key, value, attn_mask, key_padding_mask)
        b, n, _ = query.shape
        q, k, v = self.q_proj(query), self.k_proj(key), self.v_proj(value)
        if self.q_ln is not None:
            q, k = self.q_ln(q), self.k_ln(k)
        heads = (b, n, self.num_heads, self.head_dim)
        out = self.attention(q.view(heads), k.view(heads), v.view(heads), is_causal=is_causal)
        out = out.reshape(b, n, self.embed_dim)
        if self.q_ln is not None:
            out = self.q_ln(out)  # the old class reused q_ln as its post-attention norm
        out = self.out_proj(out)
        if need_weights or getattr(self, "_always_return_tuple", False):
            return out, None
        return out


def create_multihead_dilated_attention(embed_dim: int, num_heads: int, dilation_rates: Sequence[int],
                                       segment_lengths: Sequence[int], **kwargs) -> MultiheadDilatedAttention:
    """``base.multihead_dilated_attention.create_multihead_dilated_attention``."""
    return MultiheadDilatedAttention(embed_dim, num_heads, dilation_rates, segment_lengths, **kwargs)


class ImprovedMultiheadDilatedAttention(_MultiheadBase):
    """The old ``ImprovedMultiheadDilatedAttention``: one fused ``qkv_proj``, no norm on q/k,
    ``q_ln`` after attention, the old ``ImprovedDilatedAttention`` inside; returns ``(out, None)``."""

    def __init__(self, embed_dim: int, num_heads: int, dilation_rates: Sequence[int], segment_lengths: Sequence[int],
                 dropout: float = 0.0, bias: bool = True, layer_norm: bool = True, layer_norm_eps: float = 1e-5,
                 gamma_init: float = 1.0, device=None, dtype=None, use_tf32: bool = True) -> None:
        super().__init__()
        attention = ImprovedDilatedAttention(segment_lengths, dilation_rates, dropout=dropout, use_tf32=use_tf32)
        self._setup(embed_dim, num_heads, segment_lengths, dilation_rates, dropout, bias, layer_norm,
                    layer_norm_eps, gamma_init, device, dtype, attention, fused=True)
        self.use_fused_qkv, self.use_tf32 = True, use_tf32
        e = embed_dim
        with torch.no_grad():  # q and k at gain 1, v at gamma_init, each block on its own fans
            for block, gain in ((slice(0, e), 1.0), (slice(e, 2 * e), 1.0), (slice(2 * e, 3 * e), gamma_init)):
                nn.init.xavier_normal_(self.qkv_proj.weight[block], gain=gain)
        if bias:
            nn.init.zeros_(self.qkv_proj.bias)
        _magneto(self.out_proj, gamma_init)

    def forward(self, query: Tensor, key: Optional[Tensor] = None, value: Optional[Tensor] = None,
                key_padding_mask: Optional[Tensor] = None, need_weights: bool = False,
                attn_mask: Optional[Tensor] = None, is_causal: bool = False, average_attn_weights: bool = True):
        key, value = self._inputs(query, key, value, attn_mask, key_padding_mask)
        b, n, e = query.shape
        # the q, k and v rows of the fused projection, each applied to its own input: what
        # ringlib.MultiheadAttention computes from the split checkpoint (the old code sliced one
        # fused product: the same numbers up to float rounding)
        biases = (None,) * 3 if self.qkv_proj.bias is None else self.qkv_proj.bias.chunk(3)
        q, k, v = (F.linear(x, w, bias) for x, w, bias in zip((query, key, value), self.qkv_proj.weight.chunk(3),
                                                                 biases))
        heads = (b, n, self.num_heads, self.head_dim)
        out = self.attention(q.reshape(heads), k.reshape(heads), v.reshape(heads), is_causal=is_causal)
        out = out.reshape(b, n, e)
        if self.q_ln is not None:
            out = self.q_ln(out)
        return self.out_proj(out), None


def create_improved_multihead_dilated_attention(embed_dim: int, num_heads: int, dilation_rates: Sequence[int],
                                                segment_lengths: Sequence[int],
                                                **kwargs) -> ImprovedMultiheadDilatedAttention:
    return ImprovedMultiheadDilatedAttention(embed_dim, num_heads, dilation_rates, segment_lengths, **kwargs)


# ---------------------------------------------------------------------------------------------
# distributed and head-parallel variants: the old ones never ran ("intended")


class DistributedMultiheadDilatedAttention(nn.Module):
    """Old ``base.distributed_dilated_attention.DistributedMultiheadDilatedAttention`` (its
    constructor always raised): q/k/v projections, the old ``DilatedAttention``, LayerNorm
    before ``out_proj``; returns ``(out, None)``. Every rank computes all heads of its full
    input, which is what head sharding plus a gather produces."""

    def __init__(self, embed_dim: int, num_heads: int, dilation_rates: Sequence[int], segment_lengths: Sequence[int],
                 dropout: float = 0.0, op=None) -> None:
        super().__init__()
        _check_multihead(embed_dim, num_heads, 1e-5, 1.0)
        self.embed_dim, self.num_heads, self.layer_norm = embed_dim, num_heads, True
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.dilated_attentions = DilatedAttention(segment_lengths, dilation_rates, attention_dropout=dropout, op=op)
        self.norm = nn.LayerNorm(embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, is_causal: bool = False):
        _check_x(query, key, value, self.embed_dim)
        b, n, e = query.shape
        heads = (b, n, self.num_heads, e // self.num_heads)
        q, k, v = (proj(t).view(heads) for proj, t in ((self.q_proj, query), (self.k_proj, key), (self.v_proj, value)))
        out = self.dilated_attentions(q, k, v, is_causal=is_causal).reshape(b, n, e)
        return self.out_proj(self.norm(out)), None


class HeadParallelDilatedAttentionOptimized(DilatedAttention):
    """Old head-parallel dilated attention (its constructor always raised): the old
    ``DilatedAttention`` over all heads. Head parallelism splits heads across ranks and sums
    the disjoint pieces; with the full q, k, v on every rank that sum is this output."""

    def __init__(self, segment_lengths: Sequence[int], dilation_rates: Sequence[int], dropout: float = 0.0,
                 use_xformers: bool = True, use_flex_attention: bool = False, use_flash_attention: bool = True,
                 use_memory_pool: bool = True, use_pattern_cache: bool = True, device=None, dtype=None) -> None:
        super().__init__(segment_lengths, dilation_rates, attention_dropout=dropout)
        self.dropout = dropout
        self.use_xformers, self.use_flex_attention, self.use_flash_attention = (
            use_xformers, use_flex_attention, use_flash_attention)
        self.use_memory_pool, self.use_pattern_cache = use_memory_pool, use_pattern_cache
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.dtype = dtype or torch.float32
        self.world_size, self.rank = world()

    def forward(self, q: Tensor, k: Tensor, v: Tensor, is_causal: bool = False) -> Tensor:
        return super().forward(q, k, v, is_causal=is_causal)


class HeadParallelMultiheadDilatedAttentionOptimized(nn.Module):
    """Old head-parallel multihead wrapper (its constructor always raised): q/k/v/out
    projections with Xavier-uniform weights and zero biases; returns ``(out, None)``."""

    def __init__(self, embed_dim: int, num_heads: int, segment_lengths: Sequence[int], dilation_rates: Sequence[int],
                 dropout: float = 0.0, bias: bool = True, device=None, dtype=None, use_xformers: bool = True,
                 use_flash_attention: bool = True, use_memory_pool: bool = True, use_pattern_cache: bool = True) -> None:
        super().__init__()
        self.head_dim = _check_multihead(embed_dim, num_heads, 1e-5, 1.0)
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        factory = {"device": device, "dtype": dtype}
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.attention = HeadParallelDilatedAttentionOptimized(
            segment_lengths, dilation_rates, dropout, use_xformers=use_xformers,
            use_flash_attention=use_flash_attention, use_memory_pool=use_memory_pool,
            use_pattern_cache=use_pattern_cache, device=device, dtype=dtype)
        for linear in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            nn.init.xavier_uniform_(linear.weight)
            if linear.bias is not None:
                nn.init.zeros_(linear.bias)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, is_causal: bool = False, need_weights: bool = False):
        if need_weights:
            raise ValueError("need_weights=True is not supported for HeadParallelMultiheadDilatedAttention")
        _check_x(query, key, value, self.embed_dim)
        b, n, _ = query.shape
        heads = (b, n, self.num_heads, self.head_dim)
        out = self.attention(self.q_proj(query).view(heads), self.k_proj(key).view(heads),
                             self.v_proj(value).view(heads), is_causal=is_causal)
        return self.out_proj(out.reshape(b, n, self.embed_dim)), None


__all__ = ["DilatedAttention", "ImprovedDilatedAttention", "MultiheadDilatedAttention",
           "ImprovedMultiheadDilatedAttention", "DistributedMultiheadDilatedAttention",
           "HeadParallelDilatedAttentionOptimized", "HeadParallelMultiheadDilatedAttentionOptimized",
           "create_dilated_attention", "create_multihead_dilated_attention", "create_improved_dilated_attention",
           "create_improved_multihead_dilated_attention"]
