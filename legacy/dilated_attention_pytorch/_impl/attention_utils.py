"""``utils.attention_utils`` of 0.2: masks, scores, positional tables and head reshapes.

Each function returns what the old one returned (recorded in ``tests/legacy/recordings``);
the masks are built from index arithmetic instead of per-row loops. Attention itself runs
on ``ringlib.attention`` where the inputs fit it, else on PyTorch's SDPA.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

import ringlib

from .platform import HAS_FLASH_ATTN, HAS_FLASH_ATTN_3, HAS_SDPA, HAS_XFORMERS

Tensor = torch.Tensor


def get_flash_attention_info() -> dict[str, Any]:
    """Flash-attention availability; the version only where the package is installed."""
    version = None
    if HAS_FLASH_ATTN:
        import flash_attn

        version = getattr(flash_attn, "__version__", "unknown")
    hopper = torch.cuda.is_available() and any(n in torch.cuda.get_device_name(0).lower() for n in ("h100", "h800"))
    return {"has_flash_attn": HAS_FLASH_ATTN, "has_flash_attn_3": HAS_FLASH_ATTN_3, "version": version,
            "fa3_optimized_hardware": hopper}


def _future(n: int, device) -> Tensor:
    idx = torch.arange(n, device=device)
    return idx[None, :] > idx[:, None]


def compute_attention_scores(q: Tensor, k: Tensor, scale: float | None = None,
                             attention_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
    """``q @ k^T * scale`` over ``[..., seq, head_dim]``; causal positions get ``-inf``; an
    additive mask is added last."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = torch.matmul(q, k.transpose(-2, -1)) * scale
    if is_causal:
        scores = scores.masked_fill(_future(q.shape[-2], q.device), float("-inf"))
    return scores if attention_mask is None else scores + attention_mask


def create_dilated_mask(seq_len: int, segment_length: int, dilation_rate: int, device) -> Tensor:
    """Bool ``[seq, seq]``: row ``i`` keeps keys ``start, start + r, ...`` inside
    ``[i - (s // 2) r, i + (s // 2) r]`` clipped to the sequence, ``start`` the clipped lower end."""
    reach = segment_length // 2 * dilation_rate
    i = torch.arange(seq_len, device=device)[:, None]
    j = torch.arange(seq_len, device=device)[None, :]
    start = (i - reach).clamp(min=0)
    inside = (j >= start) & (j <= i + reach)
    return inside & ((j - start) % max(dilation_rate, 1) == 0) if dilation_rate > 1 else inside


def apply_dilated_attention_pattern(scores: Tensor, segment_length: int, dilation_rate: int, group_idx: int,
                                    total_groups: int) -> Tensor:
    """Scores outside ``create_dilated_mask`` become ``-inf`` (the group arguments were unused)."""
    mask = create_dilated_mask(scores.shape[-1], segment_length, dilation_rate, scores.device)
    return scores.masked_fill(~mask, float("-inf"))


def create_block_diagonal_mask(seq_len: int, block_size: int, device, overlap: int = 0) -> Tensor:
    """Bool ``[seq, seq]``: same block, plus ``overlap`` positions on each side of every block
    boundary, in both directions."""
    i = torch.arange(seq_len, device=device)[:, None]
    j = torch.arange(seq_len, device=device)[None, :]
    mask = (i // block_size) == (j // block_size)
    if overlap > 0:
        start_i, start_j = i // block_size * block_size, j // block_size * block_size
        end_i = torch.clamp(start_i + block_size, max=seq_len)
        end_j = torch.clamp(start_j + block_size, max=seq_len)
        before = ((start_i - j) > 0) & ((start_i - j) <= overlap)  # j just before i's block
        after = (j >= end_i) & (j < end_i + overlap)  # j just after i's block
        before_t = ((start_j - i) > 0) & ((start_j - i) <= overlap)
        after_t = (i >= end_j) & (i < end_j + overlap)
        mask = mask | before | after | before_t | after_t
    return mask


def optimize_attention_computation(q: Tensor, k: Tensor, v: Tensor, is_causal: bool = False,
                                   attention_mask: Tensor | None = None, dropout_p: float = 0.0) -> Tensor:
    """Softmax attention over ``[..., seq, heads, head_dim]`` (what the old SDPA path returned)."""
    p = dropout_p if torch.is_grad_enabled() else 0.0
    if q.dim() == 4 and attention_mask is None and p == 0.0 and q.shape == k.shape:
        return ringlib.attention(q, k, v, ringlib.Dense(), causal=is_causal)
    out = F.scaled_dot_product_attention(q.transpose(-3, -2), k.transpose(-3, -2), v.transpose(-3, -2),
                                         attn_mask=attention_mask, dropout_p=p, is_causal=is_causal)
    return out.transpose(-3, -2)


def standard_attention(q: Tensor, k: Tensor, v: Tensor, is_causal: bool = False,
                       attention_mask: Tensor | None = None, dropout_p: float = 0.0) -> Tensor:
    """Explicit softmax attention over ``[..., seq, heads, head_dim]``; dropout only with grad
    enabled, as before."""
    qh, kh, vh = (t.transpose(-3, -2) for t in (q, k, v))
    mask = attention_mask.unsqueeze(-3) if attention_mask is not None and attention_mask.dim() >= 3 else attention_mask
    weights = torch.softmax(compute_attention_scores(qh, kh, None, mask, is_causal), dim=-1)
    if dropout_p > 0 and torch.is_grad_enabled():
        weights = F.dropout(weights, p=dropout_p, training=True)
    return torch.matmul(weights, vh).transpose(-3, -2)


def compute_alibi_bias(seq_len: int, num_heads: int, device, dtype: torch.dtype = torch.float32) -> Tensor:
    """``[heads, seq, seq]``: slope ``2^(-8 h / heads)`` times ``j - i``."""
    slopes = torch.tensor([2 ** (-8 * h / num_heads) for h in range(num_heads)], device=device, dtype=dtype)
    pos = torch.arange(seq_len, device=device, dtype=dtype)
    return slopes[:, None, None] * (pos[None, :] - pos[:, None])[None]


def compute_rotary_embeddings(seq_len: int, dim: int, device, base: int = 10000,
                              dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """RoPE tables ``(cos, sin)`` of ``[seq, dim]``: the ``dim / 2`` angles tiled twice."""
    if dim % 2:
        raise ValueError(f"dim must be even for rotary embeddings, got {dim}")
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, device=device, dtype=dtype) / dim))
    angles = torch.outer(torch.arange(seq_len, device=device, dtype=dtype), inv_freq)
    return torch.cos(angles).repeat(1, 2), torch.sin(angles).repeat(1, 2)


def apply_rotary_embeddings(q: Tensor, k: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor]:
    """Rotate adjacent pairs ``(x[2i], x[2i+1])`` of ``[..., seq, heads, head_dim]`` by the
    angle whose cos/sin sit at the even columns of the tables."""
    c = cos.reshape(cos.shape[0], -1, 2)[..., 0][:, None, :]
    s = sin.reshape(sin.shape[0], -1, 2)[..., 0][:, None, :]

    def rotate(x: Tensor) -> Tensor:
        even, odd = x.reshape(*x.shape[:-1], -1, 2).unbind(-1)
        return torch.stack((even * c - odd * s, even * s + odd * c), dim=-1).reshape(x.shape)

    return rotate(q), rotate(k)


def merge_attention_heads(tensor: Tensor, num_heads: int, head_dim: int) -> Tensor:
    """``[..., seq, heads, head_dim]`` -> ``[..., seq, heads * head_dim]``."""
    return tensor.reshape(*tensor.shape[:-2], num_heads * head_dim)


def split_attention_heads(tensor: Tensor, num_heads: int) -> Tensor:
    """``[..., seq, hidden]`` -> ``[..., seq, heads, hidden // heads]``."""
    return tensor.reshape(*tensor.shape[:-1], num_heads, tensor.shape[-1] // num_heads)


def create_4d_causal_mask(seq_len: int, device, dtype: torch.dtype = torch.float32) -> Tensor:
    """Additive ``[1, 1, seq, seq]`` mask: ``-inf`` above the diagonal, 0 elsewhere."""
    mask = torch.zeros(seq_len, seq_len, device=device, dtype=dtype)
    return mask.masked_fill(_future(seq_len, device), float("-inf"))[None, None]


def apply_head_specific_masks(attention_scores: Tensor, head_masks: list[Tensor] | None = None) -> Tensor:
    """Scores of head ``h`` where ``head_masks[h]`` is true become ``-inf`` (in place, as before)."""
    if head_masks is None:
        return attention_scores
    heads = [h for h, m in enumerate(head_masks) if m is not None]
    if heads:
        shape = attention_scores.shape[-2:]
        masks = torch.stack([head_masks[h].bool().expand(shape) for h in heads])
        idx = torch.tensor(heads, device=attention_scores.device)
        picked = attention_scores.index_select(-3, idx).masked_fill(masks, float("-inf"))
        attention_scores.index_copy_(-3 % attention_scores.dim(), idx, picked)
    return attention_scores


def compute_position_embeddings(seq_len: int, embed_dim: int, device, dtype: torch.dtype = torch.float32) -> Tensor:
    """Sinusoidal table ``[seq, embed_dim]``: sin at even columns, cos at odd ones."""
    pos = torch.arange(seq_len, dtype=torch.float, device=device)[:, None]
    div = torch.exp(torch.arange(0, embed_dim, 2, dtype=torch.float, device=device) * (-math.log(10000.0) / embed_dim))
    table = torch.zeros(seq_len, embed_dim, device=device, dtype=dtype)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div)
    return table


def get_attention_backend_info() -> dict[str, Any]:
    """Which attention backends this process can use."""
    info: dict[str, Any] = {"has_flash_attention": HAS_FLASH_ATTN, "has_xformers": HAS_XFORMERS, "has_sdpa": HAS_SDPA,
                            "torch_version": torch.__version__, "cuda_available": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info["gpu_name"] = torch.cuda.get_device_name()
        info["gpu_capability"] = torch.cuda.get_device_capability()
    return info
