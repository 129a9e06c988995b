"""``kernels`` of 0.2: Hilbert-ordered segment attention (``HilbertAttentionCore``), its
autograd function, the q/k/v wrappers and the old row-snake mapping.

The old forward ran a Triton kernel (CUDA only) that normalised every key step by a maximum
taken over a block of queries and left the output in curve order, so it never computed
softmax attention. Here (numerics "intended") the sequence is gathered by
``create_hilbert_mapping``, each query of a ``segment_size`` tile attends to the tile rows
``0, r, 2r, ...`` (``ringlib.compat.StridedKeys``) and the output is scattered back to the
original order.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

import ringlib
from ringlib.compat import StridedKeys

from .common import warn_ignored

Tensor = torch.Tensor


def create_hilbert_mapping(seq_len: int) -> Tensor:
    """int32 permutation of ``range(seq_len)``: identity up to 64; beyond, position ``p`` in a
    row-major ``ceil(sqrt(n))``-wide grid gets its rank in a row-by-row snake walk
    (even rows left to right, odd rows right to left)."""
    if seq_len <= 64:
        return torch.arange(seq_len, dtype=torch.int32)
    side = math.ceil(math.sqrt(seq_len))
    pos = torch.arange(side * side).view(side, side)
    pos[1::2] = pos[1::2].flip(1)
    walk = pos.flatten()
    walk = walk[walk < seq_len]  # the walk's order restricted to real positions
    mapping = torch.empty(seq_len, dtype=torch.long)
    mapping[walk] = torch.arange(seq_len)
    return mapping.int()


def segment_attention(q: Tensor, k: Tensor, v: Tensor, mapping: Tensor | None, segment_size: int,
                      dilation_rate: int, scale: float, dropout_p: float = 0.0) -> Tensor:
    """``(B, M, H, D)`` with ``M % segment_size == 0``: gather by ``mapping``, strided-key
    segment attention, scatter back."""
    if mapping is not None:
        order = mapping.long().to(q.device)
        q, k, v = (t.index_select(1, order) for t in (q, k, v))
    pattern = StridedKeys([segment_size], [dilation_rate])
    out = ringlib.attention(q, k, v, pattern, scale=scale, dropout_p=dropout_p)
    if mapping is not None:
        out = torch.empty_like(out).index_copy_(1, order, out)
    return out


class HilbertAttentionFunction(torch.autograd.Function):
    """``apply(qkv, scale, hilbert_map, segment_size, dilation_rate, M_padded, M_orig, B, H, D)``
    with ``qkv`` of ``(3, B, H, M_padded, D)`` -> ``(B, H, M_padded, D)``; the gradient is that
    of the same computation (autograd inside)."""

    @staticmethod
    def forward(ctx, qkv, scale, hilbert_map, segment_size, dilation_rate, M_padded, M_orig, B, H, D):
        ctx.save_for_backward(qkv, hilbert_map)
        ctx.settings = (segment_size, dilation_rate, scale)
        return HilbertAttentionFunction._run(qkv, hilbert_map, *ctx.settings)

    @staticmethod
    def _run(qkv, hilbert_map, segment_size, dilation_rate, scale):
        q, k, v = (t.transpose(1, 2) for t in qkv.unbind(0))
        return segment_attention(q, k, v, hilbert_map, segment_size, dilation_rate, scale).transpose(1, 2)

    @staticmethod
    def backward(ctx, dout):
        qkv, hilbert_map = ctx.saved_tensors
        with torch.enable_grad():  # recompute, then differentiate the same computation
            leaf = qkv.detach().requires_grad_(True)
            out = HilbertAttentionFunction._run(leaf, hilbert_map, *ctx.settings)
            (grad,) = torch.autograd.grad(out, leaf, dout)
        return grad, None, None, None, None, None, None, None, None, None


class HilbertAttentionCore(nn.Module):
    """x -> x attention: fused bias-free q/k/v projection, Hilbert-ordered strided-key segment
    attention, output projection and dropout. Sequences are zero-padded to whole segments."""

    def __init__(self, hidden_dim: int, num_heads: int, segment_size: int = 128, dilation_rate: int = 1,
                 dropout: float = 0.0, use_custom_backward: bool = True):
        super().__init__()
        if hidden_dim % num_heads:
            raise ValueError(f"hidden_dim ({hidden_dim}) must be divisible by num_heads ({num_heads})")
        if segment_size < 1 or dilation_rate < 1:
            raise ValueError(f"segment_size and dilation_rate must be >= 1, got {segment_size}, {dilation_rate}")
        self.hidden_dim, self.num_heads = hidden_dim, num_heads
        self.segment_size, self.dilation_rate = segment_size, dilation_rate
        self.head_dim = hidden_dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.use_custom_backward = use_custom_backward
        self.qkv_proj = nn.Linear(hidden_dim, 3 * hidden_dim, bias=False)
        self.out_proj = nn.Linear(hidden_dim, hidden_dim, bias=False)
        self.dropout = nn.Dropout(dropout)
        self._hilbert_cache: dict[int, Tensor] = {}

    def get_hilbert_mapping(self, seq_len: int, device: torch.device) -> Tensor:
        if seq_len not in self._hilbert_cache:
            self._hilbert_cache[seq_len] = create_hilbert_mapping(seq_len).to(device)
        return self._hilbert_cache[seq_len]

    def forward(self, x: Tensor, use_hilbert: bool = True) -> Tensor:
        if x.dim() != 3 or x.shape[-1] != self.hidden_dim:
            raise ValueError(f"x must be (batch, seq, {self.hidden_dim}), got {tuple(x.shape)}")
        B, M, _ = x.shape
        if M == 0:
            return self.dropout(self.out_proj(x))
        padded = M + (-M) % self.segment_size
        qkv = self.qkv_proj(F.pad(x, (0, 0, 0, padded - M))).view(B, padded, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.unbind(2)
        mapping = self.get_hilbert_mapping(padded, x.device) if use_hilbert else None
        out = segment_attention(q, k, v, mapping, self.segment_size, self.dilation_rate, self.scale)
        return self.dropout(self.out_proj(out.reshape(B, padded, self.hidden_dim)[:, :M]))


class HilbertAttentionTritonWrapper(nn.Module):
    """q, k, v ``(B, M, H, D)`` front end of ``HilbertAttentionCore``: the three inputs are
    projected, averaged into one ``x`` and attended (the old design), then projected out.
    Segment and rate are the first of the lists; ``num_heads``/``head_dim`` come from kwargs."""

    def __init__(self, segment_lengths: list[int], dilation_rates: list[int], dropout: float = 0.0, **kwargs):
        super().__init__()
        self.num_heads = kwargs.get("num_heads", 8)
        self.head_dim = kwargs.get("head_dim", 64)
        hidden = self.num_heads * self.head_dim
        self.attention = HilbertAttentionCore(hidden, self.num_heads, segment_lengths[0] if segment_lengths else 128,
                                              dilation_rates[0] if dilation_rates else 1, dropout, True)
        self.q_proj = nn.Linear(hidden, hidden, bias=False)
        self.k_proj = nn.Linear(hidden, hidden, bias=False)
        self.v_proj = nn.Linear(hidden, hidden, bias=False)
        self.out_proj = nn.Linear(hidden, hidden, bias=False)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, is_causal: bool = False, **kwargs) -> Tensor:
        if is_causal:
            warn_ignored("is_causal=True: HilbertAttentionTritonWrapper never supported causal masking")
        B, M, H, D = q.shape
        x = (self.q_proj(q.reshape(B, M, -1)) + self.k_proj(k.reshape(B, M, -1)) + self.v_proj(v.reshape(B, M, -1))) / 3.0
        return self.out_proj(self.attention(x, use_hilbert=True)).reshape(B, M, H, D)


class HilbertAttentionTritonFixed(HilbertAttentionTritonWrapper):
    """The old alias subclass of ``HilbertAttentionTritonWrapper``."""
