"""``nn.Module`` front ends of ``ringlib.attention``."""

from __future__ import annotations

import torch
from torch import nn

from ringlib.cores import AttentionCore
from ringlib.functional import attention
from ringlib.orderings import Ordering, validate_ordering
from ringlib.patterns import Pattern

Tensor = torch.Tensor


def _check_heads(embed_dim: int, num_heads: int, output_dropout: float) -> None:
    if isinstance(embed_dim, bool) or not isinstance(embed_dim, int) or embed_dim < 1:
        raise ValueError(f"embed_dim must be a positive int, got {embed_dim!r}")
    if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads < 1:
        raise ValueError(f"num_heads must be a positive int, got {num_heads!r}")
    if embed_dim % num_heads:
        raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
    if not 0.0 <= output_dropout < 1.0:
        raise ValueError(f"output_dropout must be in [0, 1), got {output_dropout!r}")


def _check_input(name: str, x: object, embed_dim: int) -> None:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    if x.dim() != 3 or x.shape[-1] != embed_dim:
        raise ValueError(f"{name} must have shape (batch, seq, {embed_dim}), got {tuple(x.shape)}")


class DilatedAttention(nn.Module):
    """Attention with a pattern (or an attention core) on ``(batch, seq, heads, head_dim)`` q, k, v.

    ``dropout`` acts on attention probabilities in training mode only (eval is
    deterministic). ``group``: a ``torch.distributed`` process group for ring attention
    (each rank passes its shard of the sequence).
    """

    def __init__(self, pattern: Pattern | AttentionCore, *, scale: float | None = None, ordering: Ordering = None,
                 dropout: float = 0.0, backend: str = "auto", group=None) -> None:
        super().__init__()
        if not isinstance(pattern, (Pattern, AttentionCore)):
            raise TypeError(f"pattern must be a ringlib pattern or attention core, got {type(pattern).__name__}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        validate_ordering(ordering)
        self.pattern = pattern
        self.scale = scale
        self.ordering = ordering
        self.dropout = dropout
        self.backend = backend
        self.group = group

    def forward(self, q: Tensor, k: Tensor, v: Tensor, *, is_causal: bool = False) -> Tensor:
        return attention(q, k, v, self.pattern, causal=is_causal, scale=self.scale,
                         ordering=self.ordering, dropout_p=self.dropout if self.training else 0.0,
                         group=self.group, backend=self.backend)

    def extra_repr(self) -> str:
        return f"pattern={self.pattern!r}, ordering={self.ordering!r}, dropout={self.dropout}"


class MultiheadDilatedAttention(nn.Module):
    """Self-attention ``x -> x`` with a fused q/k/v projection and a pattern.

    ``qkv_proj`` is ``Linear(E, 3E)`` with output features ``[q | k | v]``, each head-major
    (``qkv_proj(x).view(b, n, 3, heads, head_dim)``); ``out_proj`` is ``Linear(E, E)``.
    ``dropout`` acts on attention probabilities, ``output_dropout`` after ``out_proj``
    (both in training mode only).
    """

    def __init__(self, embed_dim: int, num_heads: int, pattern: Pattern | AttentionCore, *, bias: bool = True,
                 dropout: float = 0.0, output_dropout: float = 0.0, batch_first: bool = True,
                 ordering: Ordering = None, scale: float | None = None, backend: str = "auto",
                 group=None, device=None, dtype=None) -> None:
        super().__init__()
        _check_heads(embed_dim, num_heads, output_dropout)
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.batch_first = batch_first
        factory = {"device": device, "dtype": dtype}
        self.qkv_proj = nn.Linear(embed_dim, 3 * embed_dim, bias=bias, **factory)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.attention = DilatedAttention(pattern, scale=scale, ordering=ordering, dropout=dropout,
                                          backend=backend, group=group)
        self.output_dropout = nn.Dropout(output_dropout)

    @property
    def pattern(self) -> Pattern | AttentionCore:
        return self.attention.pattern

    def forward(self, x: Tensor, *, is_causal: bool = False) -> Tensor:
        _check_input("x", x, self.embed_dim)
        if not self.batch_first:
            x = x.transpose(0, 1)
        b, n, _ = x.shape
        q, k, v = self.qkv_proj(x).view(b, n, 3, self.num_heads, self.head_dim).unbind(2)
        out = self.attention(q, k, v, is_causal=is_causal).reshape(b, n, self.embed_dim)
        out = self.output_dropout(self.out_proj(out))
        return out if self.batch_first else out.transpose(0, 1)


class MultiheadAttention(nn.Module):
    """``(query, key, value) -> out`` with separate q/k/v/out projections and a pattern, like
    ``torch.nn.MultiheadAttention`` (``batch_first``): for cross-attention, or weights kept
    as separate projections. ``key`` and ``value`` default to ``query``.

    ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj`` are ``Linear(E, E)``, head-major.
    ``qk_norm``: ``q_norm`` / ``k_norm``, LayerNorms of the projected q and k over the whole
    embedding (query-key normalisation). ``out_norm``: a LayerNorm of the attention output
    before ``out_proj`` (the sub-LayerNorm of LongNet / MAGNETO). ``dropout`` acts on attention
    probabilities, ``output_dropout`` after ``out_proj`` (training mode only). For plain
    self-attention :class:`MultiheadDilatedAttention` fuses the three projections into one.
    """

    def __init__(self, embed_dim: int, num_heads: int, pattern: Pattern | AttentionCore, *, bias: bool = True,
                 dropout: float = 0.0, output_dropout: float = 0.0, qk_norm: bool = False,
                 out_norm: bool = False, norm_eps: float = 1e-5, batch_first: bool = True,
                 ordering: Ordering = None, scale: float | None = None, backend: str = "auto",
                 group=None, device=None, dtype=None) -> None:
        super().__init__()
        _check_heads(embed_dim, num_heads, output_dropout)
        if isinstance(norm_eps, bool) or not isinstance(norm_eps, (int, float)) or not norm_eps > 0:
            raise ValueError(f"norm_eps must be a positive number, got {norm_eps!r}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.batch_first = batch_first
        factory = {"device": device, "dtype": dtype}
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        norm = lambda: nn.LayerNorm(embed_dim, eps=norm_eps, **factory)  # noqa: E731
        self.q_norm = norm() if qk_norm else None
        self.k_norm = norm() if qk_norm else None
        self.out_norm = norm() if out_norm else None
        self.attention = DilatedAttention(pattern, scale=scale, ordering=ordering, dropout=dropout,
                                          backend=backend, group=group)
        self.output_dropout = nn.Dropout(output_dropout)

    @property
    def pattern(self) -> Pattern | AttentionCore:
        return self.attention.pattern

    def forward(self, query: Tensor, key: Tensor | None = None, value: Tensor | None = None, *,
                is_causal: bool = False) -> Tensor:
        key = query if key is None else key
        value = query if value is None else value
        for name, x in (("query", query), ("key", key), ("value", value)):
            _check_input(name, x, self.embed_dim)
        if key.shape != value.shape:
            raise ValueError(f"key and value must have the same shape, got {tuple(key.shape)} and "
                             f"{tuple(value.shape)}")
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        if key.shape[0] != query.shape[0]:
            raise ValueError(f"query and key must have the same batch size, got {query.shape[0]} and {key.shape[0]}")
        q, k, v = self.q_proj(query), self.k_proj(key), self.v_proj(value)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        heads = (self.num_heads, self.head_dim)
        out = self.attention(q.unflatten(-1, heads), k.unflatten(-1, heads), v.unflatten(-1, heads),
                             is_causal=is_causal).flatten(-2)
        if self.out_norm is not None:
            out = self.out_norm(out)
        out = self.output_dropout(self.out_proj(out))
        return out if self.batch_first else out.transpose(0, 1)
