"""Attention kernels that also return the log-sum-exp, with their backward.

``forward`` computes, for 4-D ``(batch, heads, rows, head_dim)`` tensors,
``o = softmax(scale * q k^T + mask) v`` and ``lse = logsumexp(scale * q k^T + mask)`` (float32
or float64, shape ``(batch, heads, rows)``). ``backward`` returns dq, dk, dv given the output
gradient and *any* (o, lse) pair: passing a merged output and merged log-sum-exp yields the
exact gradient of the union softmax, which is how LSE mixing and ring attention differentiate
without storing probabilities.

The fused PyTorch kernels are used where they apply: on CUDA in half precision without a
mask, cuDNN's fused attention for problems of at least ``CUDNN_MIN_FLOPS`` (about 1.5x the
flash kernel on an H100 for the short segments dilated attention makes, strided operands
included), else or where cuDNN declines, flash; memory-efficient
with a bias; on CPU the flash kernel. ``math`` is the plain fallback, also used for dropout.
``CUDA_KERNELS`` sets the order in which the unmasked half-precision CUDA kernels are tried.
"""

from __future__ import annotations

import functools

import torch

Tensor = torch.Tensor
_NEG_INF = float("-inf")

CUDA_KERNELS: tuple[str, ...] = ("cudnn", "flash")
"""Unmasked half-precision CUDA kernels, in the order tried (``"cudnn"``, ``"flash"``)."""

CUDNN_MIN_FLOPS = 2**36
"""cuDNN costs more CPU time per call than flash (~0.1 ms): it is used where its shorter GPU
time pays for that, problems of at least this many forward FLOPs (``4 b h rows_q rows_k d``;
about 0.25 ms of flash on an H100)."""

_CUDNN_REFUSED: set[tuple] = set()  # problem signatures cuDNN declined: not tried again


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


def _use_fused(q: Tensor) -> bool:
    return q.device.type in ("cpu", "cuda") and q.dtype in (
        torch.float64,
        torch.float32,
        torch.float16,
        torch.bfloat16,
    ) and not (q.device.type == "cuda" and q.dtype == torch.float64)


def forward(q: Tensor, k: Tensor, v: Tensor, scale: float, causal: bool, mask: Tensor | None):
    """Return ``(o, lse)``. ``mask`` is a boolean "may attend" tensor broadcastable to
    ``(rows_q, rows_k)``; ``causal`` is top-left aligned. Every row must see >= 1 key."""
    if _use_fused(q):
        if q.device.type == "cpu":
            o, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
                q, k, v, 0.0, causal, attn_mask=_additive(mask, q.dtype), scale=scale
            )
            return o, lse
        if mask is None and q.dtype in (torch.float16, torch.bfloat16) and q.shape[-1] <= 256:
            if _cudnn_applies(q, k, causal):
                try:
                    res = torch.ops.aten._scaled_dot_product_cudnn_attention(
                        q, k, v, None, True, 0.0, causal, False, scale=scale)
                    return res[0], res[1].reshape(q.shape[:3])
                except RuntimeError:  # cuDNN has no plan for this problem: flash has
                    _CUDNN_REFUSED.add(_signature(q, k, causal))
            res = torch.ops.aten._scaled_dot_product_flash_attention(q, k, v, 0.0, causal, False, scale=scale)
            return res[0], res[1]
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
    if _use_fused(q):
        if q.device.type == "cpu":
            return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward(
                do, q, k, v, o, lse, 0.0, causal, attn_mask=_additive(mask, q.dtype), scale=scale
            )
        if mask is None and q.dtype in (torch.float16, torch.bfloat16) and q.shape[-1] <= 256:
            if _cudnn_applies(q, k, causal):
                try:
                    return torch.ops.aten._scaled_dot_product_cudnn_attention_backward(
                        _matching_layout(do, q), q, k, v, _matching_layout(o, q),
                        lse.float().contiguous().unsqueeze(-1), None, None, None, None, None,
                        q.shape[2], k.shape[2], 0.0, causal, scale=scale)
                except RuntimeError:
                    _CUDNN_REFUSED.add(_signature(q, k, causal))
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
        if mask is not None and q.dtype in (torch.float16, torch.bfloat16):
            # the memory-efficient backward with a bias returns garbage in half precision
            # (torch 2.11, H100); these masked parts (ordering + causal) take the plain path
            dq, dk, dv = math_backward(do, q, k, v, o, lse, scale, causal, mask)
            return dq.to(q.dtype), dk.to(q.dtype), dv.to(q.dtype)
        bias = _cuda_bias(mask, q, k)
        if bias is not None:
            do, q, k, v, o = (t.contiguous() for t in (do, q, k, v, o))
        seed = torch.zeros((), dtype=torch.long)
        dq, dk, dv, _ = torch.ops.aten._scaled_dot_product_efficient_attention_backward(
            do, q, k, v, bias, o, _pad_lse(lse), seed, seed, 0.0, [True, True, True, False],
            causal, scale=scale,
        )
        return dq, dk, dv
    return math_backward(do, q, k, v, o, lse, scale, causal, mask)


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


def _signature(q: Tensor, k: Tensor, causal: bool) -> tuple:
    return (q.dtype, q.shape[-1], q.shape[2], k.shape[2], causal, q.device.index)


def _cudnn_applies(q: Tensor, k: Tensor, causal: bool) -> bool:
    """cuDNN is first in line, available, and not known to refuse this problem. Its causal
    mask is only used on square problems (where top-left and bottom-right agree)."""
    return (
        "cudnn" in CUDA_KERNELS[:1]
        and (not causal or q.shape[2] == k.shape[2])
        and q.shape[-1] % 8 == 0 and q.shape[-1] <= 128
        and 4 * q.shape[0] * q.shape[1] * q.shape[2] * k.shape[2] * q.shape[3] >= CUDNN_MIN_FLOPS
        and _cudnn_available(q.device.index)
        and _signature(q, k, causal) not in _CUDNN_REFUSED
    )


@functools.lru_cache(maxsize=None)
def _cudnn_available(index: int | None) -> bool:
    return (torch.backends.cudnn.is_available() and hasattr(torch.ops.aten, "_scaled_dot_product_cudnn_attention")
            and torch.cuda.get_device_capability(index) >= (8, 0))


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


def math_forward(q, k, v, scale, causal, mask, dropout_p: float = 0.0):
    """Plain attention with log-sum-exp; differentiable (autograd) and dropout-capable."""
    acc = torch.float64 if q.dtype == torch.float64 else torch.float32
    s = _scores(q.to(acc), k.to(acc), scale, causal, mask)
    lse = torch.logsumexp(s, dim=-1)
    p = torch.exp(s - lse.unsqueeze(-1))
    if dropout_p > 0.0:
        p = torch.nn.functional.dropout(p, dropout_p)
    o = torch.matmul(p, v.to(acc)).to(q.dtype)
    return o, lse


def math_backward(do, q, k, v, o, lse, scale, causal, mask):
    acc = torch.float64 if q.dtype == torch.float64 else torch.float32
    q, k, v, o, do = (t.to(acc) for t in (q, k, v, o, do))
    s = _scores(q, k, scale, causal, mask)
    p = torch.exp(s - lse.to(acc).unsqueeze(-1))
    dv = torch.matmul(p.transpose(-1, -2), do)
    dp = torch.matmul(do, v.transpose(-1, -2))
    delta = (do * o).sum(-1, keepdim=True)
    ds = p * (dp - delta) * scale
    dq = torch.matmul(ds, k)
    dk = torch.matmul(ds.transpose(-1, -2), q)
    return dq, dk, dv
