"""A whole plan's attention under autograd in one Triton launch per direction.

``fused_forward`` computes every family of a plan in one launch but only for forwards that
need no gradient. This module adds the backward: one launch whose programs are the key
tiles (dk, dv) and the query tiles (dq) of every (family, segment, head) of the plan. Like
the ``sdpa`` backend's backward it recomputes probabilities from the *final* output and
log-sum-exp, so the gradient is exact for both combine rules it takes:

* "lse" (LongNet eq. 10): feeding the merged output and merged log-sum-exp to each family's
  backward gives the exact gradient of the union softmax;
* "sum" over disjoint parts (head groups): each (position, head) has one family, whose
  weight scales the output gradient.

In both cases ``delta = rowsum(dout * out)`` of the final output is each family's softmax
correction term, so one elementwise pass prepares it for all families. Gradients of a
family land straight in place (disjoint plans) or in one half-precision slice per branch
that a single reduction sums (families of different branches cover the same rows), never in
float32 buffers.

``ringlib.dispatch`` sends it the calls under autograd of small plans (the launch-bound
regime) whose combine is "lse" or a disjoint "sum": its ``fused_plan`` route, on by default up
to ``KernelOptions.fused_plan_max_flops``; its tile sizes are ``KernelOptions.fused_plan_*``.
"""

from __future__ import annotations

import functools
import math

import torch

from ringlib import dispatch
from ringlib.backends import fused_forward
from ringlib.plan import Plan, StridedParts

Tensor = torch.Tensor

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - exercised where Triton is missing
    triton = None

_TENSORS = 9  # q, k, v, do, dq, dk, dv, lse, delta
_FIELDS = 4 + 5 * _TENSORS


def attention(q: Tensor, k: Tensor, v: Tensor, plan: Plan, scale: float, causal: bool) -> Tensor:
    """The plan's attention with the one-launch forward and backward (the ``fused_plan`` route)."""
    return _PlanAttention.apply(q, k, v, plan, float(scale), bool(causal))


class _PlanAttention(torch.autograd.Function):
    """Forward: ``fused_forward.plan_forward`` (keeps the final output and log-sum-exp);
    backward: ``plan_backward``."""

    @staticmethod
    def forward(ctx, q, k, v, plan, scale, causal):
        out, lse = fused_forward.plan_forward(q, k, v, plan, scale, causal)
        ctx.plan, ctx.scale, ctx.causal = plan, scale, causal
        ctx.save_for_backward(q, k, v, out, lse)
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v, out, lse = ctx.saved_tensors
        dq, dk, dv = plan_backward(dout, q, k, v, out, lse, ctx.plan, ctx.scale, ctx.causal)
        return dq, dk, dv, None, None, None


def _plan_backward_kernel(Q, K, V, DO, DQ, DK, DV, L, DELTA, DESC, WEIGHT, WORK, sm_scale, qk_scale,
                          HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                          FIELDS: tl.constexpr):
    """One program: the dk, dv of one key tile (``kind`` 0) or the dq of one query tile
    (``kind`` 1) of one head of one segment of one family (Triton JIT source)."""
    pid = tl.program_id(0)
    family = tl.load(WORK + pid * 5).to(tl.int64)
    bs = tl.load(WORK + pid * 5 + 1).to(tl.int64)
    head = tl.load(WORK + pid * 5 + 2).to(tl.int64)
    tile = tl.load(WORK + pid * 5 + 3).to(tl.int64)
    kind = tl.load(WORK + pid * 5 + 4)
    desc = DESC + family * FIELDS
    segments = tl.load(desc)
    q_count = tl.load(desc + 1)
    k_count = tl.load(desc + 2)
    causal = tl.load(desc + 3)
    b = bs // segments
    s = bs % segments
    # per tensor (q, k, v, do, dq, dk, dv, lse, delta): offset, batch, segment, head, row strides
    q_base = tl.load(desc + 4) + b * tl.load(desc + 5) + s * tl.load(desc + 6) + head * tl.load(desc + 7)
    k_base = tl.load(desc + 9) + b * tl.load(desc + 10) + s * tl.load(desc + 11) + head * tl.load(desc + 12)
    v_base = tl.load(desc + 14) + b * tl.load(desc + 15) + s * tl.load(desc + 16) + head * tl.load(desc + 17)
    do_base = tl.load(desc + 19) + b * tl.load(desc + 20) + s * tl.load(desc + 21) + head * tl.load(desc + 22)
    dq_base = tl.load(desc + 24) + b * tl.load(desc + 25) + s * tl.load(desc + 26) + head * tl.load(desc + 27)
    dk_base = tl.load(desc + 29) + b * tl.load(desc + 30) + s * tl.load(desc + 31) + head * tl.load(desc + 32)
    dv_base = tl.load(desc + 34) + b * tl.load(desc + 35) + s * tl.load(desc + 36) + head * tl.load(desc + 37)
    l_base = tl.load(desc + 39) + b * tl.load(desc + 40) + s * tl.load(desc + 41) + head * tl.load(desc + 42)
    d_base = tl.load(desc + 44) + b * tl.load(desc + 45) + s * tl.load(desc + 46) + head * tl.load(desc + 47)
    q_row, k_row, v_row, do_row = tl.load(desc + 8), tl.load(desc + 13), tl.load(desc + 18), tl.load(desc + 23)
    dq_row, dk_row, dv_row = tl.load(desc + 28), tl.load(desc + 33), tl.load(desc + 38)
    l_row, d_row = tl.load(desc + 43), tl.load(desc + 48)
    weight = tl.load(WEIGHT + family)
    dims = tl.arange(0, HEAD_DIM)
    log2e = 1.4426950408889634

    if kind == 0:  # dk, dv of key rows [tile * BLOCK_N, ...): loop over the query rows
        cols = tile * BLOCK_N + tl.arange(0, BLOCK_N)
        col_ok = cols < k_count
        k = tl.load(K + k_base + cols[:, None] * k_row + dims[None, :], mask=col_ok[:, None], other=0.0)
        v = tl.load(V + v_base + cols[:, None] * v_row + dims[None, :], mask=col_ok[:, None], other=0.0)
        dk = tl.zeros([BLOCK_N, HEAD_DIM], tl.float32)
        dv = tl.zeros([BLOCK_N, HEAD_DIM], tl.float32)
        start = tl.full([], 0, tl.int64)  # int64 like the causal start below (Triton checks the types agree)
        if causal != 0:
            start = (tile * BLOCK_N) // BLOCK_M * BLOCK_M
        for m0 in range(start, q_count, BLOCK_M):
            rows = m0 + tl.arange(0, BLOCK_M)
            row_ok = rows < q_count
            q = tl.load(Q + q_base + rows[:, None] * q_row + dims[None, :], mask=row_ok[:, None], other=0.0)
            do = tl.load(DO + do_base + rows[:, None] * do_row + dims[None, :], mask=row_ok[:, None], other=0.0)
            do = (do.to(tl.float32) * weight).to(q.dtype)
            lse = tl.load(L + l_base + rows * l_row, mask=row_ok, other=0.0) * log2e
            delta = tl.load(DELTA + d_base + rows * d_row, mask=row_ok, other=0.0)
            scores = tl.dot(q, tl.trans(k)) * qk_scale
            allowed = row_ok[:, None] & col_ok[None, :] & ((causal == 0) | (cols[None, :] <= rows[:, None]))
            p = tl.where(allowed, tl.exp2(scores - lse[:, None]), 0.0)
            dv += tl.dot(tl.trans(p.to(q.dtype)), do)
            dp = tl.dot(do, tl.trans(v))
            ds = p * (dp - delta[:, None])
            dk += tl.dot(tl.trans(ds.to(q.dtype)), q)
        dk = dk * sm_scale
        tl.store(DK + dk_base + cols[:, None] * dk_row + dims[None, :], dk.to(DK.dtype.element_ty),
                 mask=col_ok[:, None])
        tl.store(DV + dv_base + cols[:, None] * dv_row + dims[None, :], dv.to(DV.dtype.element_ty),
                 mask=col_ok[:, None])
    else:  # dq of query rows [tile * BLOCK_M, ...): loop over the key rows
        rows = tile * BLOCK_M + tl.arange(0, BLOCK_M)
        row_ok = rows < q_count
        q = tl.load(Q + q_base + rows[:, None] * q_row + dims[None, :], mask=row_ok[:, None], other=0.0)
        do = tl.load(DO + do_base + rows[:, None] * do_row + dims[None, :], mask=row_ok[:, None], other=0.0)
        do = (do.to(tl.float32) * weight).to(q.dtype)
        lse = tl.load(L + l_base + rows * l_row, mask=row_ok, other=0.0) * log2e
        delta = tl.load(DELTA + d_base + rows * d_row, mask=row_ok, other=0.0)
        dq = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)
        end = k_count
        if causal != 0:
            end = tl.minimum(k_count, (tile + 1) * BLOCK_M)
        for n0 in range(0, end, BLOCK_N):
            cols = n0 + tl.arange(0, BLOCK_N)
            col_ok = cols < k_count
            k = tl.load(K + k_base + cols[:, None] * k_row + dims[None, :], mask=col_ok[:, None], other=0.0)
            v = tl.load(V + v_base + cols[:, None] * v_row + dims[None, :], mask=col_ok[:, None], other=0.0)
            scores = tl.dot(q, tl.trans(k)) * qk_scale
            allowed = row_ok[:, None] & col_ok[None, :] & ((causal == 0) | (cols[None, :] <= rows[:, None]))
            p = tl.where(allowed, tl.exp2(scores - lse[:, None]), 0.0)
            dp = tl.dot(do, tl.trans(v))
            ds = p * (dp - delta[:, None])
            dq += tl.dot(ds.to(q.dtype), k)
        dq = dq * sm_scale
        tl.store(DQ + dq_base + rows[:, None] * dq_row + dims[None, :], dq.to(DQ.dtype.element_ty),
                 mask=row_ok[:, None])


@functools.lru_cache(maxsize=2)
def _kernel(interpret: bool):
    """The JIT kernel, decorated on first use (so that ``TRITON_INTERPRET=1`` set later, as
    in the CPU tests, selects Triton's interpreter)."""
    return triton.jit(_plan_backward_kernel)


def _describe(plan: Plan, tensors: tuple[Tensor, ...], slices: bool, causal: bool, block_m: int, block_n: int):
    """(descriptor int64 table, weights, work list) of a plan's backward. ``tensors`` are q,
    k, v, do, dq, dk, dv, lse, delta; dq, dk, dv hold one slice per branch when ``slices``."""
    q, k, v, do, dq, dk, dv, lse, delta = tensors
    fields, weights, work = [], [], []
    pieces = [(g, lane) for g, branch in enumerate(plan.branches) for part in branch.parts for lane in part.per_lane()]
    for family, (g, part) in enumerate(pieces):
        grads = []
        for x, keys in ((dq, False), (dk, True), (dv, True)):
            view, shift = (x[g], g * x.stride(0)) if slices else (x, 0)
            grads += _fields(view, part, keys, shift)
        fields.append([part.segments, part.q_count, part.k_count, int(causal),
                       *_fields(q, part, False), *_fields(k, part, True), *_fields(v, part, True),
                       *_fields(do, part, False), *grads, *_fields(lse, part, False), *_fields(delta, part, False)])
        weights.append(part.weight if plan.combine == "sum" else 1.0)
        rows = torch.arange(q.shape[0] * part.segments)
        for kind, count in ((0, math.ceil(part.k_count / block_n)), (1, math.ceil(part.q_count / block_m))):
            grid = torch.cartesian_prod(torch.tensor([family]), rows, torch.arange(part.heads),
                                        torch.arange(count), torch.tensor([kind]))
            work.append(grid.view(-1, 5))
    desc = torch.tensor(fields, dtype=torch.int64)
    return desc, torch.tensor(weights, dtype=torch.float32), torch.cat(work).to(torch.int32)


def _fields(x: Tensor, part: StridedParts, keys: bool, shift: int = 0) -> list[int]:
    return fused_forward._tensor_fields(x, part, keys, shift)


@functools.lru_cache(maxsize=64)
def _cached_description(plan: Plan, layout: tuple, slices: bool, causal: bool, device: torch.device,
                        block_m: int, block_n: int):
    tensors = tuple(torch.empty_strided(size, stride, device="meta") for size, stride in layout)
    desc, weights, work = _describe(plan, tensors, slices, causal, block_m, block_n)
    return desc.to(device), weights.to(device), work.to(device)


def plan_backward(dout: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor, plan: Plan,
                  scale: float, causal: bool) -> tuple[Tensor, Tensor, Tensor]:
    """``(dq, dk, dv)`` of the plan's attention given its final ``out`` and log-sum-exp
    ``lse`` ``(b, n, h)`` (merged under "lse", each row's own family's under a disjoint
    "sum"), in one launch."""
    b, n, h, d = q.shape
    dout = dout.to(q.dtype)
    delta = (dout.float() * out.float()).sum(-1)
    slices = not plan.disjoint and len(plan.branches) > 1
    shape = (len(plan.branches), b, n, h, d) if slices else (b, n, h, d)
    # rows no family covers keep a zero gradient
    dq, dk, dv = (torch.zeros(shape, dtype=q.dtype, device=q.device) for _ in range(3))
    tensors = (q, k, v, dout, dq, dk, dv, lse, delta)
    opts = dispatch.options()
    block_m, block_n = opts.fused_plan_block_m, opts.fused_plan_block_n
    layout = fused_forward._layout(*tensors)
    desc, weights, work = _cached_description(plan, layout, slices, causal, q.device, block_m, block_n)
    _kernel(fused_forward._interpreting())[(work.shape[0],)](
        q, k, v, dout, dq, dk, dv, lse, delta, desc, weights, work, scale, scale * 1.4426950408889634,
        HEAD_DIM=d, BLOCK_M=block_m, BLOCK_N=block_n, FIELDS=_FIELDS,
        num_warps=opts.fused_plan_num_warps if d <= 64 else 8, num_stages=opts.fused_plan_num_stages)
    if slices:
        return dq.sum(0), dk.sum(0), dv.sum(0)
    return dq, dk, dv

