"""Attention kernels that also return the log-sum-exp, with their backward.

``forward`` computes, for 4-D ``(batch, heads, rows, head_dim)`` tensors,
``o = softmax(scale * q k^T + mask) v`` and ``lse = logsumexp(scale * q k^T + mask)`` (float32
or float64, shape ``(batch, heads, rows)``). ``backward`` returns dq, dk, dv given the output
gradient and *any* (o, lse) pair: passing a merged output and merged log-sum-exp yields the
exact gradient of the union softmax, which is how LSE mixing and ring attention differentiate
without storing probabilities.

Each call runs the kernel ``ringlib.dispatch.fused_kernel`` names (PyTorch's fused CPU flash,
CUDA cuDNN / flash / memory-efficient kernels, or the plain ``math`` fallback, also used for
dropout); this module only runs it.
"""

from __future__ import annotations

import torch

from ringlib import dispatch

Tensor = torch.Tensor
_NEG_INF = float("-inf")


def _additive(mask: Tensor | None, dtype: torch.dtype) -> Tensor | None:
    if mask is None:
        return None
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(~mask, _NEG_INF)


def _cuda_bias(mask: Tensor | None, q: Tensor, k: Tensor) -> Tensor | None:
    """Additive bias for the memory-efficient CUDA kernel: broadcast over batch and heads,
    last dimension padded to a multiple of 16 so that its row stride is aligned."""
    if mask is None:
        return None
    rows_k = k.shape[2]
    padded = (rows_k + 15) // 16 * 16
    bias = torch.zeros(mask.shape[-2], padded, dtype=q.dtype, device=q.device)
    bias[:, :rows_k].masked_fill_(~mask, _NEG_INF)
    return bias[:, :rows_k].expand(q.shape[0], q.shape[1], q.shape[2], rows_k)


def forward(q: Tensor, k: Tensor, v: Tensor, scale: float, causal: bool, mask: Tensor | None):
    """Return ``(o, lse)``. ``mask`` is a boolean "may attend" tensor broadcastable to
    ``(rows_q, rows_k)``; ``causal`` is top-left aligned. Every row must see >= 1 key."""
    kernel = dispatch.fused_kernel(q.device, q.dtype, q.shape, k.shape[2], causal, mask is not None)
    if kernel == "cpu_flash":
        o, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            q, k, v, 0.0, causal, attn_mask=_additive(mask, q.dtype), scale=scale
        )
        return o, lse
    if kernel == "cudnn":
        try:
            res = torch.ops.aten._scaled_dot_product_cudnn_attention(
                q, k, v, None, True, 0.0, causal, False, scale=scale)
            return res[0], res[1].reshape(q.shape[:3])
        except RuntimeError:  # cuDNN has no plan for this problem: flash has
            kernel = dispatch.refuse_cudnn(q.device, q.dtype, q.shape, k.shape[2], causal)
    if kernel == "flash":
        res = torch.ops.aten._scaled_dot_product_flash_attention(q, k, v, 0.0, causal, False, scale=scale)
        return res[0], res[1]
    if kernel == "efficient":
        bias = _cuda_bias(mask, q, k)
        if bias is not None:  # the memory-efficient kernel faults on strided operands with a bias
            q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        res = torch.ops.aten._scaled_dot_product_efficient_attention(
            q, k, v, bias, True, 0.0, causal, scale=scale
        )
        return res[0], res[1][..., : q.shape[2]]
    return math_forward(q, k, v, scale, causal, mask)


def backward(do: Tensor, q: Tensor, k: Tensor, v: Tensor, o: Tensor, lse: Tensor, scale: float,
             causal: bool, mask: Tensor | None):
    """Return ``(dq, dk, dv)`` for ``o = softmax(...) v`` given its (possibly merged) o, lse."""
    kernel = dispatch.fused_kernel(q.device, q.dtype, q.shape, k.shape[2], causal, mask is not None, backward=True)
    if kernel == "cpu_flash":
        return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward(
            do, q, k, v, o, lse, 0.0, causal, attn_mask=_additive(mask, q.dtype), scale=scale
        )
    if kernel == "cudnn":
        try:
            return torch.ops.aten._scaled_dot_product_cudnn_attention_backward(
                _matching_layout(do, q), q, k, v, _matching_layout(o, q),
                lse.float().contiguous().unsqueeze(-1), None, None, None, None, None,
                q.shape[2], k.shape[2], 0.0, causal, scale=scale)
        except RuntimeError:
            kernel = dispatch.refuse_cudnn(q.device, q.dtype, q.shape, k.shape[2], causal)
    if kernel == "flash":
        # flash reads the output gradient with the output's strides
        do = do if do.stride() == o.stride() else torch.empty_like(o).copy_(do)
        # the philox state is unused without dropout but must have the kernel's dtype
        seed = torch.zeros(2, dtype=torch.uint64, device=q.device)
        offset = torch.zeros((), dtype=torch.uint64, device=q.device)
        # strided q, k, v, o, do are fine; a strided log-sum-exp is not (torch 2.11)
        return torch.ops.aten._scaled_dot_product_flash_attention_backward(
            do, q, k, v, o, lse.float().contiguous(), None, None, q.shape[2], k.shape[2], 0.0, causal,
            seed, offset, scale=scale,
        )
    if kernel == "efficient":
        bias = _cuda_bias(mask, q, k)
        if bias is not None:
            do, q, k, v, o = (t.contiguous() for t in (do, q, k, v, o))
        seed = torch.zeros((), dtype=torch.long)
        dq, dk, dv, _ = torch.ops.aten._scaled_dot_product_efficient_attention_backward(
            do, q, k, v, bias, o, _pad_lse(lse), seed, seed, 0.0, [True, True, True, False],
            causal, scale=scale,
        )
        return dq, dk, dv
    dq, dk, dv = math_backward(do, q, k, v, o, lse, scale, causal, mask)
    if q.is_cuda:  # gradients in the inputs' dtype, like the fused CUDA kernels'
        return dq.to(q.dtype), dk.to(q.dtype), dv.to(q.dtype)
    return dq, dk, dv


def _matching_layout(t: Tensor, q: Tensor) -> Tensor:
    """``t`` in the layout cuDNN's forward gives its output for this ``q`` (dimensions ordered
    like q's strides, densely packed). PyTorch caches cuDNN backward graphs under q/k/v
    shapes and strides only, with the output's strides baked in: an output of any other
    layout would be read through a cached graph's strides. So every call passes this one."""
    order = sorted(range(t.dim()), key=lambda i: q.stride(i))  # stable: like std::stable_sort
    strides = [0] * t.dim()
    step = 1
    for i in order:
        strides[i] = step
        step *= t.shape[i]
    if list(t.stride()) == strides:
        return t
    return torch.empty_strided(t.shape, strides, dtype=t.dtype, device=t.device).copy_(t)


def _pad_lse(lse: Tensor) -> Tensor:
    rows = lse.shape[-1]
    padded = (rows + 31) // 32 * 32
    if padded == rows:
        return lse.float().contiguous()
    return torch.nn.functional.pad(lse.float(), (0, padded - rows)).contiguous()


def _scores(q: Tensor, k: Tensor, scale: float, causal: bool, mask: Tensor | None) -> Tensor:
    s = torch.matmul(q, k.transpose(-1, -2)) * scale
    allowed = mask
    if causal:
        tri = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
        allowed = tri if allowed is None else allowed & tri
    if allowed is not None:
        s = s.masked_fill(~allowed, _NEG_INF)
    return s


def math_forward(q, k, v, scale, causal, mask, dropout_p: float = 0.0, drop: Tensor | None = None):
    """Plain attention with log-sum-exp; differentiable (autograd) and dropout-capable:
    ``dropout_p`` draws torch's dropout, ``drop`` multiplies the probabilities by a given
    mask (``ringlib.dropout.multiplier``, seeded by position). The log-sum-exp is that of
    the scores either way (dropout acts after normalisation)."""
    acc = torch.float64 if q.dtype == torch.float64 else torch.float32
    s = _scores(q.to(acc), k.to(acc), scale, causal, mask)
    lse = torch.logsumexp(s, dim=-1)
    p = torch.exp(s - lse.unsqueeze(-1))
    if dropout_p > 0.0:
        p = torch.nn.functional.dropout(p, dropout_p)
    if drop is not None:
        p = p * drop
    o = torch.matmul(p, v.to(acc)).to(q.dtype)
    return o, lse


def math_backward(do, q, k, v, o, lse, scale, causal, mask, drop: Tensor | None = None):
    """Gradients of ``math_forward`` given any (o, lse) pair; ``drop``: the forward's
    multiplier. With dropout ``o = (drop * p) v``, so ``rowsum(do * o)`` is still the
    ``delta`` of the softmax backward (``sum_j p_ij * d(drop * p)_ij``)."""
    acc = torch.float64 if q.dtype == torch.float64 else torch.float32
    q, k, v, o, do = (t.to(acc) for t in (q, k, v, o, do))
    s = _scores(q, k, scale, causal, mask)
    p = torch.exp(s - lse.to(acc).unsqueeze(-1))
    dp = torch.matmul(do, v.transpose(-1, -2))
    if drop is not None:
        dp = dp * drop
    dv = torch.matmul((p if drop is None else p * drop).transpose(-1, -2), do)
    delta = (do * o).sum(-1, keepdim=True)
    ds = p * (dp - delta) * scale
    dq = torch.matmul(ds, k)
    dk = torch.matmul(ds.transpose(-1, -2), q)
    return dq, dk, dv
