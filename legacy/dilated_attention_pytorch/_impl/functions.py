"""Functional ring attention and log-sum-exp helpers.

The old autograd functions were not attention (intended: EXACT); here they are exact
softmax attention through ``ringlib.attention`` with ``(B, H, L, D)`` tensors. Backward
recomputes the forward (memory efficient: only the inputs are saved), under the forward's
RNG state so that dropout masks match.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.distributed as dist

import ringlib
from ringlib import lse as lse_ops

Tensor = torch.Tensor


def _exact(q: Tensor, k: Tensor, v: Tensor, scale: float, dropout_p: float, is_causal: bool,
           world_size: int) -> Tensor:
    """Exact attention of ``(B, H, L_loc, D)`` shards over the global sequence."""
    group = dist.group.WORLD if world_size > 1 else None
    out = ringlib.attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), ringlib.Dense(),
                            causal=bool(is_causal), scale=scale, dropout_p=dropout_p, group=group)
    return out.transpose(1, 2)


class _Recompute(torch.autograd.Function):
    """Shared forward/backward: exact attention, recomputed in backward."""

    @staticmethod
    def _run(ctx, q, k, v, scale, dropout_p, is_causal, world_size):
        scale = q.shape[-1] ** -0.5 if scale is None else scale
        ctx.config = (scale, dropout_p, is_causal, world_size)
        ctx.rng = torch.get_rng_state(), (torch.cuda.get_rng_state(q.device) if q.is_cuda else None)
        ctx.save_for_backward(q, k, v)
        with torch.no_grad():
            return _exact(q, k, v, scale, dropout_p, is_causal, world_size)

    @staticmethod
    def _grads(ctx, grad_out):
        q, k, v = (t.detach().requires_grad_() for t in ctx.saved_tensors)
        cpu_state, cuda_state = ctx.rng
        devices = [q.device] if q.is_cuda else []
        with torch.random.fork_rng(devices=devices), torch.enable_grad():
            torch.set_rng_state(cpu_state)
            if cuda_state is not None:
                torch.cuda.set_rng_state(cuda_state, q.device)
            out = _exact(q, k, v, *ctx.config)
            return torch.autograd.grad(out, (q, k, v), grad_out)


class RingAttentionFunction(_Recompute):
    """``apply(q, k, v, scale, dropout_p, is_causal, rank, world_size, use_hilbert=False,
    hilbert_indices=None)``: exact (ring) attention; the ordering arguments have no effect on
    exact attention."""

    @staticmethod
    def forward(ctx, q, k, v, scale, dropout_p, is_causal, rank, world_size, use_hilbert=False,
                hilbert_indices=None):
        return _Recompute._run(ctx, q, k, v, scale, dropout_p, is_causal, world_size)

    @staticmethod
    def backward(ctx, grad_out):
        return (*_Recompute._grads(ctx, grad_out), *([None] * 7))


class MemoryEfficientRingAttentionFunction(_Recompute):
    """``apply(q_local, k_local, v_local, scale, dropout_p, is_causal, rank, world_size,
    local_seq_start)``: exact attention, recomputed in backward."""

    @staticmethod
    def forward(ctx, q_local, k_local, v_local, scale, dropout_p, is_causal, rank, world_size, local_seq_start):
        return _Recompute._run(ctx, q_local, k_local, v_local, scale, dropout_p, is_causal, world_size)

    @staticmethod
    def backward(ctx, grad_out):
        return (*_Recompute._grads(ctx, grad_out), *([None] * 6))


def _rank_world() -> Tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def ring_attention(q: Tensor, k: Tensor, v: Tensor, scale: Optional[float] = None, dropout_p: float = 0.0,
                   is_causal: bool = False, use_hilbert: bool = False,
                   hilbert_indices: Optional[Tensor] = None) -> Tensor:
    rank, world_size = _rank_world()
    return RingAttentionFunction.apply(q, k, v, scale, dropout_p, is_causal, rank, world_size, use_hilbert,
                                       hilbert_indices)


def memory_efficient_ring_attention(q_local: Tensor, k_local: Tensor, v_local: Tensor,
                                    scale: Optional[float] = None, dropout_p: float = 0.0,
                                    is_causal: bool = False, local_seq_start: int = 0) -> Tensor:
    rank, world_size = _rank_world()
    return MemoryEfficientRingAttentionFunction.apply(q_local, k_local, v_local, scale, dropout_p, is_causal,
                                                      rank, world_size, local_seq_start)


class StableRingAccumulator:
    """Merges normalised chunk outputs by their log-sum-exp (LSE_MERGE)."""

    def __init__(self, dtype: torch.dtype = torch.float32):
        self.dtype = dtype
        self.attn_out: Optional[Tensor] = None
        self.lse: Optional[Tensor] = None

    def update(self, new_attn: Tensor, new_lse: Tensor, mask: Optional[Tensor] = None) -> None:
        keepdim = new_lse.dim() == new_attn.dim()
        new_lse = new_lse.to(self.dtype)
        new_lse = new_lse.squeeze(-1) if keepdim else new_lse
        if mask is not None:  # True = masked out: the new chunk is ignored for those rows
            mask = mask.squeeze(-1) if mask.dim() == new_attn.dim() else mask
            new_lse = new_lse.masked_fill(mask, float("-inf"))
        new_attn = new_attn.to(self.dtype)
        if self.attn_out is None:
            self.attn_out, lse = new_attn * torch.isfinite(new_lse).unsqueeze(-1), new_lse
        else:
            current = self.lse.squeeze(-1) if self._keepdim else self.lse
            self.attn_out, lse = lse_ops.merge(self.attn_out, current, new_attn, new_lse)
        self._keepdim = keepdim
        self.lse = lse.unsqueeze(-1) if keepdim else lse

    def get(self) -> Tuple[Tensor, Tensor]:
        return self.attn_out, self.lse


class StableAttentionAccumulator:
    """Output and LSE accumulators of a fixed shape, merged by log-sum-exp."""

    def __init__(self, output_shape, dtype: torch.dtype, device):
        self.output = torch.zeros(output_shape, dtype=dtype, device=device)
        self.lse = torch.full((*tuple(output_shape)[:-1], 1), float("-inf"), dtype=dtype, device=device)

    def update(self, new_output: Tensor, new_lse: Tensor) -> None:
        new_lse = new_lse if new_lse.dim() == new_output.dim() else new_lse.unsqueeze(-1)
        out, lse = lse_ops.merge(self.output, self.lse.squeeze(-1), new_output.to(self.output.dtype),
                                 new_lse.squeeze(-1).to(self.lse.dtype))
        self.output, self.lse = out, lse.unsqueeze(-1)

    def get(self) -> Tensor:
        return self.output


def compute_lse(scores: Tensor, mask: Optional[Tensor] = None) -> Tensor:
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    return torch.logsumexp(scores, dim=-1, keepdim=True)


def compute_lse_triton(scores: Tensor, mask: Optional[Tensor] = None) -> Tensor:
    """The old Triton entry point; same result as ``compute_lse``."""
    return compute_lse(scores, mask)


def update_lse(old_lse: Tensor, new_scores: Tensor, mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """``(logaddexp(old_lse, lse(new_scores)), exp(old_lse - new_lse))``."""
    new_lse = torch.logaddexp(old_lse, compute_lse(new_scores, mask))
    return new_lse, torch.exp(old_lse - new_lse)


def compute_attention_with_lse(q: Tensor, k: Tensor, v: Tensor, mask: Optional[Tensor] = None,
                               scale: Optional[float] = None) -> Tuple[Tensor, Tensor]:
    """Dense softmax attention over the last two dims, with its log-sum-exp (keepdim)."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = torch.matmul(q, k.transpose(-2, -1)) * scale
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    lse = torch.logsumexp(scores, dim=-1, keepdim=True)
    return torch.matmul(torch.softmax(scores, dim=-1), v), lse


def ring_pass_lse(attn_out: Tensor, lse: Tensor, next_kv_chunk, ring_size: int, rank: int) -> Tuple[Tensor, Tensor]:
    """An identity (the old placeholder)."""
    return attn_out, lse
