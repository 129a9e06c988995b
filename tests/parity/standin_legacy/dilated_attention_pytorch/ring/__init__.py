"""The old ring classes this stand-in reproduces."""

import math
import os

import torch
from torch import nn


def snake(m):
    """The SNAKE ordering: rows of width ceil(sqrt(L)), every other row reversed."""
    if m <= 64:
        return list(range(m))
    g = math.isqrt(m)
    if g * g < m:
        g += 1
    order = []
    for row, start in enumerate(range(0, m, g)):
        cells = list(range(start, min(start + g, m)))
        order.extend(reversed(cells) if row % 2 else cells)
    return order


class _Fused(nn.Module):
    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        assert embed_dim % num_heads == 0
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.qkv_proj = nn.Linear(embed_dim, 3 * embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def _heads(self, x):
        b, n, _ = x.shape
        q, k, v = self.qkv_proj(x).view(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return q, k, v  # (B, H, L, D)

    def _out(self, o):
        b, h, n, d = o.shape
        return self.out_proj(o.transpose(1, 2).reshape(b, n, h * d))


class RingDilatedAttentionFixedSimple(_Fused):
    """DENSE, non-causal (no is_causal parameter)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, device=None, dtype=None):
        super().__init__(embed_dim, num_heads)

    def forward(self, x, total_seq_len=None, already_split=False):
        q, k, v = self._heads(x)
        q = q / math.sqrt(self.head_dim)
        return self._out(torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v)


class RingDilatedAttentionMemoryEfficient(_Fused):
    """DENSE; ``STANDIN_BUG=1`` plants a wrong scale (a difference the registry cannot explain)."""

    def __init__(self, embed_dim, num_heads, segment_lengths=None, dilation_rates=None, dropout=0.0, bias=True,
                 device=None, dtype=None):
        super().__init__(embed_dim, num_heads, bias)

    def forward(self, x, total_seq_len=None, is_causal=False, already_split=False):
        q, k, v = self._heads(x)
        scale = self.head_dim ** -0.5 * (1.5 if os.environ.get("STANDIN_BUG") == "1" else 1.0)
        s = q @ k.transpose(-1, -2) * scale
        if is_causal:
            n = s.shape[-1]
            s = s.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
        return self._out(torch.softmax(s, dim=-1) @ v)


class RingDilatedAttentionCorrect(_Fused):
    """REGIONS with the legacy causal leak and the legacy in-place backward error."""

    def __init__(self, embed_dim, num_heads, segment_lengths, dilation_rates, dropout=0.0, bias=True,
                 use_hilbert=True, device=None, dtype=None):
        super().__init__(embed_dim, num_heads, bias)
        assert len(segment_lengths) == len(dilation_rates)
        self.segment_lengths, self.dilation_rates, self.use_hilbert = segment_lengths, dilation_rates, use_hilbert

    def forward(self, x_local, total_seq_len=None, is_causal=False, need_weights=False):
        q, k, v = self._heads(x_local)
        n = q.shape[2]
        out = torch.zeros_like(q)
        start = 0
        for s, r in zip(self.segment_lengths, self.dilation_rates):
            if start >= n:
                break
            end = min(start + s, n)
            m = end - start
            order = snake(m) if self.use_hilbert and m > 1 else list(range(m))
            positions = start + torch.tensor(order)
            for offset in range(r):
                chosen = positions[offset::r]
                if len(chosen) == 0:
                    continue
                scores = q[:, :, chosen] @ k[:, :, chosen].transpose(-1, -2) * self.head_dim ** -0.5
                if is_causal and offset == 0:  # the legacy leak: class 0 only, in snake order
                    c = len(chosen)
                    scores = scores.masked_fill(torch.ones(c, c, dtype=torch.bool).triu(1), float("-inf"))
                attn = torch.softmax(scores, dim=-1)
                out[:, :, chosen] = attn @ v[:, :, chosen]
                attn.mul_(1.0)  # the legacy in-place op that broke every backward
            start = end
        result = self._out(out)
        return (result, None) if need_weights else result


class RingDistributedDilatedAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, segment_lengths, dilation_rates, **kwargs):
        super().__init__()
        raise ValueError("Unknown attention type 'improved'. Available types: []")


class StableRingAccumulator:
    """The legacy update: the new chunk is added without its log-sum-exp weight."""

    def __init__(self, dtype=torch.float32):
        self.dtype, self.attn_out, self.lse = dtype, None, None

    def update(self, new_attn, new_lse, mask=None):
        if self.attn_out is None:
            self.attn_out, self.lse = new_attn.to(self.dtype), new_lse.to(self.dtype)
            return
        total = torch.logaddexp(self.lse, new_lse.to(self.dtype))
        self.attn_out = self.attn_out * torch.exp(self.lse - total) + new_attn.to(self.dtype)
        self.lse = total

    def get(self):
        return self.attn_out, self.lse
