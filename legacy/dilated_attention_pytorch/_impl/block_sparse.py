"""The old block-sparse classes: BLOCK_SUM, i.e.
``ringlib.BlockSparse(layout, normalization="per_block_sum")`` with the layout of the old
``SparsePatternConfig``. Causal masking is token-correct (the old diag-only rule leaked)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

import torch
from torch import nn

import ringlib
from ringlib.blocksparse import dilated, global_local, local_window

from .common import check_heads, core_config, projection_inputs, warn_ignored
from .configs import SparsePatternConfig

Tensor = torch.Tensor


def _check_lists(segment_lengths, dilation_rates) -> None:
    if not segment_lengths or not dilation_rates:
        raise ValueError("segment_lengths and dilation_rates must not be empty")
    if len(segment_lengths) != len(dilation_rates):
        raise ValueError("segment_lengths and dilation_rates must have the same length")
    if any(s <= 0 for s in segment_lengths) or any(r <= 0 for r in dilation_rates):
        raise ValueError("segment_lengths and dilation_rates must be positive")


def layout_of(config: SparsePatternConfig):
    """The ringlib layout generator of an old ``SparsePatternConfig``."""
    bs = config.block_size
    if config.pattern_type == "local_window":
        return local_window(config.window_size, bs)
    if config.pattern_type == "dilated_sparse":
        if config.dilation_rates is not None and any(r < 0 for r in config.dilation_rates):
            raise ValueError(f"dilation_rates must be >= 0, got {config.dilation_rates}")
        return dilated(config.dilation_rates)
    if config.pattern_type == "global_local":
        return global_local(config.global_tokens, config.window_size, bs)
    raise ValueError(f"Unknown pattern type: {config.pattern_type}")


_TRACED_PATTERNS: Dict[str, ringlib.BlockSparse] = {}


@torch._dynamo.assume_constant_result
def _traced_pattern(pattern_type: str, window_size: int, global_tokens: int, dilation_rates: Optional[tuple],
                    block_size: int, partial_tail: str) -> str:
    """Runs eagerly while torch.compile traces (a pattern built inside a graph is not data the
    graph can hold): files the pattern of the config with these fields under a constant key.
    A compiled graph keeps the pattern of the config it was traced with. Takes the fields the
    layout reads, not the config object (not every torch.compile can pass an object here)."""
    config = SparsePatternConfig(pattern_type=pattern_type, block_size=block_size, window_size=window_size,
                                 global_tokens=global_tokens,
                                 dilation_rates=None if dilation_rates is None else list(dilation_rates))
    pattern = ringlib.BlockSparse(layout_of(config), block_size=block_size, normalization="per_block_sum",
                                  partial_tail=partial_tail)
    key = repr(pattern)  # generator layouts: equal reprs are equal patterns
    _TRACED_PATTERNS.setdefault(key, pattern)
    return key


class _Options:
    """The ``config`` attribute of the old class (plain record)."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


_KNOWN_KWARGS = {"sparsity_config", "sparsity_ratio", "dropout", "ring_size", "use_gradient_checkpointing",
                 "enable_memory_pool", "device", "dtype"}


class BlockSparseRingDilatedAttention(ringlib.DilatedAttention):
    """BLOCK_SUM with the pattern of ``sparse_config``; no parameters."""

    _partial_tail = "error"

    def __init__(self, segment_lengths: list, dilation_rates: list,
                 sparse_config: Union[SparsePatternConfig, dict, None] = None, enable_batched_ops: bool = True,
                 pattern_cache_size: int = 100, **kwargs):
        self._init_block_sparse(segment_lengths, dilation_rates, sparse_config, enable_batched_ops,
                                pattern_cache_size, kwargs)

    def _init_block_sparse(self, segment_lengths, dilation_rates, sparse_config, enable_batched_ops,
                           pattern_cache_size, kwargs, module_init: bool = True) -> None:
        _check_lists(segment_lengths, dilation_rates)
        sparse_config = kwargs.get("sparsity_config", sparse_config)
        if sparse_config is None:
            sparse_config = SparsePatternConfig(sparsity_ratio=kwargs.get("sparsity_ratio", 0.1))
        elif isinstance(sparse_config, dict):
            sparse_config = SparsePatternConfig(**sparse_config)
        p = kwargs.get("dropout", 0.0)
        if not 0 <= p <= 1:
            raise ValueError(f"dropout must be between 0 and 1, got {p}")
        ring_size = kwargs.get("ring_size")
        if ring_size is not None and ring_size <= 0:
            raise ValueError(f"ring_size must be positive, got {ring_size}")
        unknown = sorted(set(kwargs) - _KNOWN_KWARGS)
        if unknown:
            warn_ignored(f"{type(self).__name__} ignores the keyword arguments {unknown}")
        if module_init:
            ringlib.DilatedAttention.__init__(self, ringlib.Dense())  # the pattern is built per call
        self.config = _Options(segment_lengths=segment_lengths, dilation_rates=dilation_rates, dropout=p,
                               ring_size=ring_size,
                               use_checkpointing=kwargs.get("use_gradient_checkpointing", True),
                               use_memory_pool=kwargs.get("enable_memory_pool", True))
        self.segment_lengths, self.dilation_rates = segment_lengths, dilation_rates
        self.dropout = nn.Dropout(p) if p > 0 else None  # never applied
        self.sparse_config = sparse_config
        self.block_size = sparse_config.block_size
        self.enable_batched_ops, self.pattern_cache_size = enable_batched_ops, pattern_cache_size
        self.use_fa3 = False

    def block_pattern(self) -> ringlib.BlockSparse:
        """The current pattern (it always follows the current ``sparse_config``)."""
        return ringlib.BlockSparse(layout_of(self.sparse_config), block_size=self.sparse_config.block_size,
                                   normalization="per_block_sum", partial_tail=self._partial_tail)

    def _pairs(self, nb: int) -> Tensor:
        return layout_of(self.sparse_config).pairs(nb)

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, is_causal: bool) -> Tensor:
        n, bs = q.shape[1], self.sparse_config.block_size
        if torch.compiler.is_compiling():
            c = self.sparse_config
            rates = None if c.dilation_rates is None else tuple(c.dilation_rates)
            pattern = _TRACED_PATTERNS[_traced_pattern(c.pattern_type, c.window_size, c.global_tokens, rates, bs,
                                                       self._partial_tail)]
        else:
            pattern = self.block_pattern()
        if n % bs and self._partial_tail == "error":
            raise ValueError(f"Sequence length {n} must be divisible by block size {bs}")
        return ringlib.attention(q, k, v, pattern, causal=is_causal, backend=self.backend)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, is_causal: bool = False,
                return_attention_weights: bool = False):
        out = self._attend(q, k, v, is_causal)
        if not return_attention_weights:
            return out
        bs = self.sparse_config.block_size
        nb = q.shape[1] // bs
        return out, {"indices": self._pairs(nb), "values": None, "shape": (nb, nb), "block_size": bs}

    def get_pattern_stats(self) -> dict:
        return {"pattern_type": self.sparse_config.pattern_type, "cached": False}

    def clear_pattern_cache(self) -> None:
        """Patterns are cached by value inside ringlib; nothing to clear."""


class BlockSparseRingDilatedAttentionFixed(nn.Module):
    """Always local_window / block 64 / window 256, whatever is passed."""

    def __init__(self, config=None, dim: Optional[int] = None, heads: Optional[int] = None,
                 segment_lengths: Optional[List[int]] = None, dilation_rates: Optional[List[int]] = None,
                 ring_size: Optional[int] = None, dropout: float = 0.0,
                 sparse_pattern_config: Union[Dict[str, Any], SparsePatternConfig, None] = None,
                 sparsity_ratio: Optional[float] = None, block_size: Optional[int] = None, **kwargs):
        super().__init__()
        if config is None and (segment_lengths is None or dilation_rates is None):
            raise ValueError("segment_lengths and dilation_rates are required")
        dim, heads, segment_lengths, dilation_rates, ring_size, dropout = core_config(
            config, dim, heads, segment_lengths, dilation_rates, ring_size, dropout)
        if sparse_pattern_config is not None or block_size is not None or "sparse_config" in kwargs:
            warn_ignored("BlockSparseRingDilatedAttentionFixed always uses local_window / block 64 / window 256")
        self.dim = dim if dim is not None else kwargs.get("head_dim", 64)
        self.heads = heads if heads is not None else kwargs.get("num_heads", 8)
        for name, value in (("dim", self.dim), ("heads", self.heads)):  # kept, unused by the pattern
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        inner = {k: kwargs[k] for k in ("use_gradient_checkpointing", "enable_memory_pool") if k in kwargs}
        if sparsity_ratio is not None:
            inner["sparsity_ratio"] = sparsity_ratio
        self.attention = BlockSparseRingDilatedAttention(segment_lengths, dilation_rates, dropout=dropout,
                                                         ring_size=ring_size or 1, **inner)
        self.ring_size = ring_size or 1

    @classmethod
    def from_config(cls, config, **kwargs):
        return cls(config=config, **kwargs)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, is_causal: bool = False,
                return_attention_weights: bool = False):
        return self.attention(q, k, v, is_causal=is_causal, return_attention_weights=return_attention_weights)


class BlockSparseRingDilatedAttentionHilbertPostPattern(BlockSparseRingDilatedAttention):
    """As the base: the pair processing order never changed results; a
    length that is not a multiple of the block size leaves the tail at zero."""

    _partial_tail = "zero"

    def __init__(self, segment_lengths: List[int], dilation_rates: List[int], sparse_config: SparsePatternConfig,
                 use_post_pattern_optimization: bool = True, cache_orderings: bool = True, **kwargs):
        super().__init__(segment_lengths, dilation_rates, sparse_config, **kwargs)
        self.use_post_pattern_optimization, self.cache_orderings = use_post_pattern_optimization, cache_orderings

    def _pairs(self, nb: int) -> Tensor:
        pairs = super()._pairs(nb)
        order = torch.argsort(pairs[0] * nb + pairs[1], stable=True)
        return pairs[:, order]

    def forward(self, q: Tensor, k: Tensor, v: Tensor, is_causal: bool = False,
                return_attention_weights: bool = False, **kwargs):
        result = super().forward(q, k, v, is_causal, return_attention_weights)
        if return_attention_weights:
            result[1].update(optimization="post_pattern_hilbert", pattern_optimized=True)
        return result

    def analyze_optimization_impact(self, seq_len: int) -> Dict[str, Any]:
        """How the Hilbert processing order of the block pairs compares with the plain order:
        the mean Manhattan step between consecutive pairs of each, and whether both hold the
        same pairs (always: the order never changes results)."""
        nb = seq_len // self.block_size
        rows, cols = BlockSparseRingDilatedAttention._pairs(self, nb)
        opt_rows, opt_cols = PostPatternHilbertOptimizer(False).optimize_block_processing_order(rows, cols, nb)

        def mean_step(r: Tensor, c: Tensor) -> float:
            steps = (r.diff().abs() + c.diff().abs()).float()
            return steps.mean().item() if steps.numel() else 0.0

        standard, optimized = mean_step(rows, cols), mean_step(opt_rows, opt_cols)
        return {"num_blocks": nb, "num_connections": rows.numel(), "standard_cache_metric": standard,
                "optimized_cache_metric": optimized,
                "improvement": (standard - optimized) / standard * 100 if standard else 0.0,
                "pattern_preserved": bool(torch.equal(rows.sort().values, opt_rows.sort().values)
                                          and torch.equal(cols.sort().values, opt_cols.sort().values))}


class PostPatternHilbertOptimizer:
    """Reorders block pairs for processing; results never depend on it."""

    def __init__(self, cache_orderings: bool = True):
        self.cache_orderings = cache_orderings
        self._cache: dict = {}

    @staticmethod
    def _hilbert_rank(side: int) -> Tensor:
        from ringlib.orderings import hilbert

        order = torch.tensor(hilbert(side * side), dtype=torch.long)
        rank = torch.empty_like(order)
        rank[order] = torch.arange(order.numel())
        return rank

    def optimize_block_processing_order(self, row_indices: Tensor, col_indices: Tensor, num_blocks: int,
                                        pattern_hash=None):
        key = (row_indices.numel(), num_blocks, pattern_hash)
        if self.cache_orderings and pattern_hash is not None and key in self._cache:
            order = self._cache[key]
            return row_indices[order], col_indices[order]
        count = row_indices.numel()
        if count and (row_indices == col_indices).sum().item() > 0.8 * count:
            order = torch.argsort(row_indices + col_indices, stable=True)
        elif count and (row_indices - col_indices).abs().float().mean().item() > 0.3 * num_blocks:
            g = int(torch.tensor(float(num_blocks)).sqrt().ceil().item())
            side = 1
            while side < g:
                side *= 2
            rank = self._hilbert_rank(side)
            linear = row_indices * g + col_indices
            position = torch.where(linear < rank.numel(), rank[linear.clamp(max=rank.numel() - 1)], linear)
            order = torch.argsort(position, stable=True)
        else:
            order = torch.argsort(row_indices * num_blocks + col_indices, stable=True)
        if self.cache_orderings:
            self._cache[key] = order
        return row_indices[order], col_indices[order]


def create_post_pattern_hilbert_attention(segment_lengths, dilation_rates, sparsity_ratio: float = 0.1,
                                          pattern_type: str = "dilated_sparse", block_size: int = 64, **kwargs):
    config = SparsePatternConfig(pattern_type=pattern_type, sparsity_ratio=sparsity_ratio, block_size=block_size)
    return BlockSparseRingDilatedAttentionHilbertPostPattern(segment_lengths, dilation_rates, config, **kwargs)


class BlockSparseRingMultiheadDilatedAttention(nn.Module):
    """Separate q/k/v/out projections around BLOCK_SUM."""

    def __init__(self, embed_dim: int, num_heads: int, segment_lengths: list, dilation_rates: list,
                 dropout: float = 0.0, bias: bool = True, sparse_config: Optional[SparsePatternConfig] = None,
                 batch_first: bool = True, **kwargs):
        super().__init__()
        check_heads(embed_dim, num_heads)
        head_dim = embed_dim // num_heads
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, head_dim
        self.batch_first, self.dropout = batch_first, dropout
        factory = {k: kwargs[k] for k in ("device", "dtype") if k in kwargs}
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.sparse_attention = BlockSparseRingDilatedAttention(segment_lengths, dilation_rates, sparse_config,
                                                                **kwargs)
        self.dropout_layer = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self._always_return_tuple = False

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Optional[Tensor] = None,
                need_weights: bool = False, attn_mask: Optional[Tensor] = None, is_causal: bool = False,
                average_attn_weights: bool = True):
        if attn_mask is not None:
            import warnings

            warnings.warn("attn_mask is not fully supported by block-sparse attention and is ignored", UserWarning,
                          stacklevel=2)
        query, key, value = projection_inputs(self.embed_dim, self.q_proj.weight.dtype, query, key, value)
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        b, n, _ = query.shape
        shape = (b, n, self.num_heads, self.head_dim)
        q = self.q_proj(query).view(shape)
        k = self.k_proj(key).view(shape)
        v = self.v_proj(value).view(shape)
        if key_padding_mask is not None:  # zeroes k and v; logits are not masked (old behaviour)
            keep = (~key_padding_mask.bool()).view(b, n, 1, 1).to(k.dtype)
            k, v = k * keep, v * keep
        result = self.sparse_attention(q, k, v, is_causal=is_causal, return_attention_weights=need_weights)
        out, info = result if need_weights else (result, None)
        out = self.dropout_layer(self.out_proj(out.reshape(b, n, self.embed_dim)))
        if not self.batch_first:
            out = out.transpose(0, 1)
        return (out, info) if (need_weights or self._always_return_tuple) else out
