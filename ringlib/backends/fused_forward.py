"""A whole plan's forward in one Triton launch (CUDA, half precision, no autograd).

The ``sdpa`` backend makes one fused-kernel call per strided family plus copies into the
output: tens of launches per forward, so up to about 32K tokens the CPU, not the GPU, sets
the pace. Here every (family, segment, head, query tile) of a plan is one program of a
single kernel launch; each program reads its rows of q, k, v through the family's strides
and writes its output rows (times the family's weight) and log-sum-exp straight into place:
into the output for a disjoint plan, into one buffer per branch otherwise, which the usual
LSE / sum combine then merges.

``ringlib.dispatch`` sends it the forwards that need no gradient (inference, evaluation)
of small plans (the launch-bound regime) without an ordering or explicit masks: its
``one_launch`` route; its tile sizes are ``KernelOptions.one_launch_*``. Plan descriptors
are cached per (plan, shapes, strides).
"""

from __future__ import annotations

import functools
import math
import os

import torch

from ringlib import dispatch
from ringlib.lse import combine as combine_lse
from ringlib.plan import Plan, StridedParts

Tensor = torch.Tensor

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - exercised where Triton is missing
    triton = None

_FIELDS = 29  # int64 descriptor fields per family: 4 counts/flags + 5 per tensor (q, k, v, out, lse)


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def _plan_forward_kernel(Q, K, V, O, L, DESC, WEIGHT, WORK, qk_scale,
                         HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                         FIELDS: tl.constexpr, EVEN: tl.constexpr):
    """One program: one query tile of one head of one segment of one family (Triton JIT
    source; compiled by ``_kernel``). ``EVEN``: no family is causal and every key count is a
    multiple of ``BLOCK_N``, so the key loop needs no masks (LongNet's power-of-two segments;
    30-40 % faster on an H100)."""
    pid = tl.program_id(0)
    family = tl.load(WORK + pid * 4).to(tl.int64)
    bs = tl.load(WORK + pid * 4 + 1).to(tl.int64)
    head = tl.load(WORK + pid * 4 + 2).to(tl.int64)
    tile = tl.load(WORK + pid * 4 + 3).to(tl.int64)
    desc = DESC + family * FIELDS
    segments = tl.load(desc)
    q_count = tl.load(desc + 1)
    k_count = tl.load(desc + 2)
    causal = tl.load(desc + 3)
    b = bs // segments
    s = bs % segments
    # per tensor: offset, batch, segment, head and row strides (elements)
    q_base = tl.load(desc + 4) + b * tl.load(desc + 5) + s * tl.load(desc + 6) + head * tl.load(desc + 7)
    k_base = tl.load(desc + 9) + b * tl.load(desc + 10) + s * tl.load(desc + 11) + head * tl.load(desc + 12)
    v_base = tl.load(desc + 14) + b * tl.load(desc + 15) + s * tl.load(desc + 16) + head * tl.load(desc + 17)
    o_base = tl.load(desc + 19) + b * tl.load(desc + 20) + s * tl.load(desc + 21) + head * tl.load(desc + 22)
    l_base = tl.load(desc + 24) + b * tl.load(desc + 25) + s * tl.load(desc + 26) + head * tl.load(desc + 27)
    q_row, k_row, v_row = tl.load(desc + 8), tl.load(desc + 13), tl.load(desc + 18)
    o_row, l_row = tl.load(desc + 23), tl.load(desc + 28)
    weight = tl.load(WEIGHT + family)

    rows = tile * BLOCK_M + tl.arange(0, BLOCK_M)
    dims = tl.arange(0, HEAD_DIM)
    row_ok = rows < q_count
    q = tl.load(Q + q_base + rows[:, None] * q_row + dims[None, :], mask=row_ok[:, None], other=0.0)
    top = tl.full([BLOCK_M], float("-inf"), tl.float32)
    total = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)
    cols = tl.arange(0, BLOCK_N)
    k_ptrs = K + k_base + cols[:, None] * k_row + dims[None, :]  # key rows, as v: one layout for both
    v_ptrs = V + v_base + cols[:, None] * v_row + dims[None, :]
    end = k_count
    if causal != 0:
        end = tl.minimum(k_count, (tile + 1) * BLOCK_M)
    for start in range(0, end, BLOCK_N):
        if EVEN:  # resolved at compile time: the unmasked loop has no mask or select at all
            k = tl.load(k_ptrs)
            scores = tl.dot(q, tl.trans(k)) * qk_scale  # log2 units
        else:
            col_ok = start + cols < k_count
            k = tl.load(k_ptrs, mask=col_ok[:, None], other=0.0)
            allowed = col_ok[None, :] & ((causal == 0) | (start + cols[None, :] <= rows[:, None]))
            scores = tl.where(allowed, tl.dot(q, tl.trans(k)) * qk_scale, float("-inf"))
        new_top = tl.maximum(top, tl.max(scores, 1))
        p = tl.exp2(scores - new_top[:, None])
        rescale = tl.exp2(top - new_top)
        total = total * rescale + tl.sum(p, 1)
        if EVEN:  # values load after the softmax step, as in the measured kernel
            v = tl.load(v_ptrs)
        else:
            v = tl.load(v_ptrs, mask=col_ok[:, None], other=0.0)
        acc = acc * rescale[:, None] + tl.dot(p.to(v.dtype), v)
        top = new_top
        k_ptrs += BLOCK_N * k_row
        v_ptrs += BLOCK_N * v_row
    out = acc * (weight / total)[:, None]
    tl.store(O + o_base + rows[:, None] * o_row + dims[None, :], out.to(O.dtype.element_ty), mask=row_ok[:, None])
    lse = (top + tl.log2(total)) * 0.6931471805599453
    tl.store(L + l_base + rows * l_row, lse, mask=row_ok)


@functools.lru_cache(maxsize=2)
def _kernel(interpret: bool):
    """The JIT kernel (decorated on first use, so that ``TRITON_INTERPRET=1`` set later, as in
    the CPU tests, selects Triton's interpreter)."""
    return triton.jit(_plan_forward_kernel)


def _tensor_fields(x: Tensor, part: StridedParts, keys: bool, shift: int = 0) -> list[int]:
    """Offset (from ``x``'s data pointer), batch, segment, head and row strides of a family's
    rows of ``x`` ``(b, n, H, ...)``, in elements."""
    start, rate = (part.k_start, part.k_rate) if keys else (part.q_start, part.q_rate)
    sb, sn, sh = x.stride()[:3]
    return [shift + start * sn + part.head_start * sh, sb, part.segment_stride * sn, part.head_step * sh, rate * sn]


def _describe(plan: Plan, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor, causal: bool, shared: bool,
              block_m: int):
    """(descriptor int64 table, weights, work list, query tile rows) of a plan over these
    tensors; ``out``/``lse`` hold one slice per branch unless ``shared``. Query tiles have
    ``block_m`` rows, 64 where no family has more."""
    fields, weights, work = [], [], []
    pieces = [(g, lane) for g, branch in enumerate(plan.branches) for part in branch.parts for lane in part.per_lane()]
    block_m = 64 if max(part.q_count for _, part in pieces) <= 64 else block_m
    for family, (g, part) in enumerate(pieces):
        o_view, l_view = (out, lse) if shared else (out[g], lse[g])
        o_shift, l_shift = (0, 0) if shared else (g * out.stride(0), g * lse.stride(0))
        fields.append([part.segments, part.q_count, part.k_count, int(causal),
                       *_tensor_fields(q, part, False), *_tensor_fields(k, part, True),
                       *_tensor_fields(v, part, True), *_tensor_fields(o_view, part, False, o_shift),
                       *_tensor_fields(l_view, part, False, l_shift)])
        weights.append(part.weight)
        grid = torch.cartesian_prod(torch.tensor([family]), torch.arange(q.shape[0] * part.segments),
                                    torch.arange(part.heads), torch.arange(math.ceil(part.q_count / block_m)))
        work.append(grid.view(-1, 4))
    desc = torch.tensor(fields, dtype=torch.int64)
    return desc, torch.tensor(weights, dtype=torch.float32), torch.cat(work).to(torch.int32), block_m


@functools.lru_cache(maxsize=64)
def _cached_description(plan: Plan, layout: tuple, causal: bool, shared: bool, device: torch.device,
                        block_m: int):
    q, k, v, out, lse = (torch.empty_strided(size, stride, device="meta") for size, stride in layout)
    desc, weights, work, block_m = _describe(plan, q, k, v, out, lse, causal, shared, block_m)
    return desc.to(device), weights.to(device), work.to(device), block_m


@functools.lru_cache(maxsize=64)
def _key_counts(plan: Plan) -> tuple[int, ...]:
    return tuple(lane.k_count for branch in plan.branches for part in branch.parts for lane in part.per_lane())


def _layout(*tensors: Tensor) -> tuple:
    return tuple((tuple(t.shape), tuple(t.stride())) for t in tensors)


def plan_forward(q: Tensor, k: Tensor, v: Tensor, plan: Plan, scale: float, causal: bool):
    """``(out, lse | None)`` of ``plan`` in one launch, or None where it does not apply
    (causal families whose queries and keys are different rows). ``lse`` ``(b, n, h)`` is
    the merged log-sum-exp under "lse", each row's own family's for a disjoint "sum", and
    None for an overlapping "sum"."""
    if causal and not plan.self_attending:
        return None
    b, n, h, d = q.shape
    shared = plan.combine == "sum" and plan.disjoint
    if shared:
        out = torch.zeros_like(q, memory_format=torch.contiguous_format)
        part_lse = torch.full((b, n, h), float("-inf"), dtype=torch.float32, device=q.device)
    else:
        g = len(plan.branches)
        out = torch.zeros(g, b, n, h, d, dtype=q.dtype, device=q.device)
        part_lse = torch.full((g, b, n, h), float("-inf"), dtype=torch.float32, device=q.device)
    opts = dispatch.options()
    layout = _layout(q, k, v, out, part_lse)
    desc, weights, work, block_m = _cached_description(plan, layout, causal, shared, q.device, opts.one_launch_block_m)
    grid = (work.shape[0],)
    even = not causal and all(c % opts.one_launch_block_n == 0 for c in _key_counts(plan))
    _kernel(_interpreting())[grid](q, k, v, out, part_lse, desc, weights, work, scale * 1.4426950408889634,
                                   HEAD_DIM=d, BLOCK_M=block_m, BLOCK_N=opts.one_launch_block_n, FIELDS=_FIELDS,
                                   EVEN=even,
                                   num_warps=opts.one_launch_num_warps if d <= 64 else 8,
                                   num_stages=opts.one_launch_num_stages)
    if shared:  # each (position, head) has one family: its log-sum-exp is the row's
        return out, part_lse
    if plan.combine == "sum":
        return out.sum(0, dtype=torch.float32).to(q.dtype), None
    return combine_lse(list(out.unbind(0)), list(part_lse.unbind(0)), dtype=q.dtype)
