"""The ``sdpa`` backend: every part family is one strided view and one fused attention call.

For each ``StridedParts`` of a plan, q, k and v are addressed through ``as_strided`` views
(segments x residue lanes x heads x rows) and handed to a fused kernel that also returns the
log-sum-exp. Outputs go back through the same views; families that cover the same
(position, head) combine by LSE or by weighted sum. Backward is a custom autograd function:
it recomputes each family with the fused backward kernel, feeding it the *merged* output and
log-sum-exp under LSE mixing (the exact gradient of the union softmax), so no probabilities
and no per-group copies are stored.
"""

from __future__ import annotations

import functools
import warnings

import torch

from ringlib import lse as lse_ops
from ringlib.backends import fused_plan, kernels
from ringlib.orderings import Ordering, permutation
from ringlib.plan import Branch, Plan, StridedParts

Tensor = torch.Tensor


def _acc_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _layout(x: Tensor, part: StridedParts, keys: bool):
    """``(size, stride, storage_offset)`` that view ``x`` ``(b, n, H, *rest)`` as
    ``(b, segments, lanes, heads, rows, *rest)``."""
    start, count, rate = (part.k_start, part.k_count, part.k_rate) if keys else (
        part.q_start, part.q_count, part.q_rate)
    sb, sn, sh, *rest = x.stride()
    size = (x.shape[0], part.segments, part.lanes, part.heads, count, *x.shape[3:])
    stride = (sb, part.segment_stride * sn, sn + part.lane_head_step * sh, part.head_step * sh,
              rate * sn, *rest)
    return size, stride, x.storage_offset() + start * sn + part.head_start * sh


def rows_view(x: Tensor, part: StridedParts, keys: bool) -> Tensor:
    """The rows of one part family of ``x`` as a strided view (no copy)."""
    return x.as_strided(*_layout(x, part, keys))


def _write(buf: Tensor, part: StridedParts, value: Tensor, in_place: bool) -> Tensor:
    """Store ``value`` into the part's rows of ``buf``: in place, or out of place under
    autograd (through an index, which differentiates whatever the gradient's strides)."""
    if in_place:
        rows_view(buf, part, keys=False).copy_(value)
        return buf
    b, n, h, *rest = buf.shape
    index = rows_view(torch.arange(n * h, device=buf.device).view(1, n, h), part, keys=False)
    flat = buf.reshape(b, n * h, *rest)
    return flat.index_copy(1, index.reshape(-1), value.reshape(b, -1, *rest)).view(buf.shape)


def _read(x: Tensor, part: StridedParts, keys: bool, in_place: bool) -> Tensor:
    """The part's rows of ``x``: a view, or an index gather under autograd."""
    if in_place:
        return rows_view(x, part, keys)
    b, n, h, *rest = x.shape
    index = rows_view(torch.arange(n * h, device=x.device).view(1, n, h), part, keys)[0]
    return x.reshape(b, n * h, *rest)[:, index.reshape(-1)].view(b, *index.shape, *rest)


def view_4d(x: Tensor, part: StridedParts, keys: bool) -> Tensor:
    """The rows of a family as ``(b*S, lanes*J, rows, *d)``: one ``as_strided`` when the
    segments tile the batch (always for batch 1), else a copy. Several lanes share the heads
    dimension (lane-major), which needs ``lane stride == J * head stride`` (see ``_pieces``)."""
    size, stride, offset = _layout(x, part, keys)
    b, segments, lanes, heads, rows, *rest = size
    if lanes > 1 and heads > 1 and stride[2] != heads * stride[3]:
        raise ValueError("lanes share the heads dimension only when rows are packed head after head")
    head_stride = stride[3] if heads > 1 else stride[2]
    if b == 1 or stride[0] == segments * stride[1]:
        return x.as_strided((b * segments, lanes * heads, rows, *rest), (stride[1], head_stride, *stride[4:]), offset)
    return x.as_strided(size, stride, offset).reshape(b * segments, lanes * heads, rows, *rest)


def _as_4d(view: Tensor) -> Tensor:
    """``(b, S, 1, J, rows, *d)`` -> ``(b*S, J, rows, *d)``: a view whenever the segments tile
    the batch (the common case), so the kernels read q, k, v in place."""
    b, segments, lanes, heads, rows, *rest = view.shape
    assert lanes == 1
    return view.reshape(b * segments, heads, rows, *rest)


def _lanes_split(part: StridedParts) -> list[StridedParts]:
    """One family per residue lane: each lane is a plain 4-D strided view of q, k, v."""
    if part.lanes == 1:
        return [part]
    return [StridedParts(part.segments, part.segment_stride, 1, 0, part.heads,
                         part.head_start + d * part.lane_head_step, part.head_step,
                         part.q_start + d, part.q_count, part.q_rate,
                         part.k_start + d, part.k_count, part.k_rate, part.weight)
            for d in range(part.lanes)]


@functools.lru_cache(maxsize=256)
def gather_index(ordering: Ordering, branch: Branch, n: int, device: torch.device):
    """Row gather index of a branch under an ordering (and its inverse), or None."""
    idx = torch.arange(n, device=device)
    changed = False
    for seg in branch.segmentations:
        perm = permutation(ordering, seg.length, device)
        if perm is None:
            continue
        changed = True
        block = idx[seg.start: seg.start + seg.count * seg.length].view(seg.count, seg.length)
        base = seg.start + torch.arange(seg.count, device=device).unsqueeze(1) * seg.length
        block.copy_(base + perm.unsqueeze(0))
    if not changed:
        return None
    inverse = torch.empty_like(idx)
    inverse[idx] = torch.arange(n, device=device)
    return idx, inverse


def _pieces(branch: Branch, fold_heads: int | None = None) -> list[StridedParts]:
    """The families of a branch as executed: one per residue lane, except that a family whose
    lanes all take the same heads folds its lanes into the heads dimension (one kernel call)
    when ``fold_heads`` (the tensors' head count, given when their rows are packed head after
    head) shows that lane ``d``, head ``j`` sits at ``(d * J + j) * head stride``."""
    out = []
    for part in branch.parts:
        if (fold_heads is not None and part.lanes > 1 and part.lane_head_step == 0
                and part.heads * part.head_step == fold_heads):
            out.append(part)
        else:
            out.extend(_lanes_split(part))
    return out


def _fold_heads(q: Tensor, k: Tensor, v: Tensor, causal: bool, ordering: Ordering) -> int | None:
    """The head count under which lanes may fold into heads (see ``_pieces``), or None: the
    rows of q, k, v must be packed head after head, and per-lane masks (causal under an
    ordering) must not differ between lanes."""
    packed = all(x.stride(1) == x.shape[2] * x.stride(2) for x in (q, k, v))
    return q.shape[2] if packed and (not causal or ordering is None) else None


def _mask(part: StridedParts, index, causal: bool, device) -> tuple[bool, Tensor | None]:
    """(top-left causal flag, boolean mask) of one family (lanes differ by a common shift of
    query and key rows, so one mask serves them all when no ordering permutes the rows)."""
    if not causal:
        return False, None
    if index is None and part.same_rows:
        return True, None
    t = torch.arange(part.q_count, device=device)
    u = torch.arange(part.k_count, device=device)
    q_rows = part.q_start + t * part.q_rate
    k_rows = part.k_start + u * part.k_rate
    if index is not None:  # original positions of the first segment's rows
        q_rows, k_rows = index[0][q_rows], index[0][k_rows]
    return False, k_rows.unsqueeze(0) <= q_rows.unsqueeze(1)


def _combine_lse(outs: list[Tensor], lses: list[Tensor], dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """LongNet eq. 10 across branches: weights softmax(lse_i) per (position, head), output in
    ``dtype``. Rows no branch covers stay 0 with lse -inf."""
    stacked = torch.stack(lses)
    top = stacked.amax(0)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    weights = torch.exp(stacked - top)
    total = weights.sum(0)
    weights = (weights / torch.where(total > 0, total, torch.ones_like(total))).unsqueeze(-1)
    out = outs[0] * weights[0]
    for w, o in zip(weights[1:], outs[1:]):
        out.addcmul_(o, w)
    return out.to(dtype), torch.where(total > 0, top + torch.log(total), torch.full_like(top, float("-inf")))


@functools.lru_cache(maxsize=1)
def _fused_combine():
    """``_combine_lse`` compiled into one pass over the branch outputs (CUDA with Triton), or
    None. Eagerly it is several passes over float32 temporaries: at 131K tokens the compiled
    version saves about 0.8 ms of a 4.1 ms LSE-mixing forward on an H100."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return None
    return torch.compile(_combine_lse, dynamic=True, fullgraph=True)


_fused_combine_failed = False  # set once compiling it failed: the eager combine from then on


def _combine(outs: list[Tensor], lses: list[Tensor], dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    global _fused_combine_failed
    fused = _fused_combine() if outs[0].is_cuda and not _fused_combine_failed else None
    if fused is not None:
        try:
            return fused(outs, lses, dtype)
        except Exception as exc:  # a compiler failure must not fail attention: run eagerly
            warnings.warn(f"ringlib: compiled LSE combine unavailable ({type(exc).__name__}: {exc}); "
                          "running it eagerly", RuntimeWarning, stacklevel=2)
            _fused_combine_failed = True
    return _combine_lse(outs, lses, dtype)


def run_forward(q: Tensor, k: Tensor, v: Tensor, plan: Plan, scale: float, causal: bool,
                ordering: Ordering, dropout_p: float = 0.0, fused: bool = True):
    """Compute the pattern. Returns ``(out, lse | None, per_part_results)``.

    Parts of one branch never overlap, so each branch writes its parts straight into one
    buffer; branches then combine by LSE or by sum. Without an ordering, a "sum" plan whose
    branches are disjoint too writes everything into the output itself.
    ``fused=False`` runs the plain math kernel under autograd (used for dropout).
    """
    b, n, h, d = q.shape
    acc = _acc_dtype(q.dtype)
    device = q.device
    shared = plan.combine == "sum" and plan.disjoint and ordering is None
    out = torch.zeros_like(q) if shared else None
    outs, lses, results = [], [], []
    fold = _fold_heads(q, k, v, causal, ordering) if fused else None
    for branch in plan.branches:
        index = gather_index(ordering, branch, n, device) if ordering is not None else None
        qb, kb, vb = (q, k, v) if index is None else (x.index_select(1, index[0]) for x in (q, k, v))
        b_out = out if shared else torch.zeros_like(q)
        b_lse = torch.full((b, n, h), float("-inf"), dtype=acc, device=device) if plan.combine == "lse" else None
        for piece in _pieces(branch, fold):
            flag, mask = _mask(piece, index, causal, device)
            if fused:
                q4, k4, v4 = (view_4d(x, piece, keys) for x, keys in ((qb, False), (kb, True), (vb, True)))
                o4, l4 = kernels.forward(q4, k4, v4, scale, flag, mask)
            else:
                q4, k4, v4 = (_as_4d(_read(x, piece, keys, False)) for x, keys in ((qb, False), (kb, True), (vb, True)))
                o4, l4 = kernels.math_forward(q4, k4, v4, scale, flag, mask, dropout_p)
            shape = _layout(b_out, piece, keys=False)[0]
            if plan.combine == "sum":
                results.append((o4, l4.to(acc)))
                if fused and piece.weight == 1.0:
                    rows_view(b_out, piece, keys=False).copy_(o4.view(shape))
                elif fused:
                    torch.mul(o4.view(shape), piece.weight, out=rows_view(b_out, piece, keys=False))
                else:
                    b_out = _write(b_out, piece, (o4 * piece.weight).view(shape), fused)
            else:
                b_out = _write(b_out, piece, o4.view(shape), fused)
                b_lse = _write(b_lse, piece, l4.to(acc).view(shape[:-1]), fused)
        if index is not None:
            b_out = b_out.index_select(1, index[1])
            b_lse = b_lse.index_select(1, index[1]) if b_lse is not None else None
        if shared:
            out = b_out
        else:
            outs.append(b_out)
            lses.append(b_lse)
    if shared:
        return out, None, results
    if plan.combine == "sum":
        total = outs[0].to(acc)
        for extra in outs[1:]:
            total = total + extra
        return total.to(q.dtype), None, results
    merged, total_lse = _combine(outs, lses, q.dtype)
    return merged, total_lse, results


def run_backward(dout: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, total_lse: Tensor | None,
                 results, plan: Plan, scale: float, causal: bool, ordering: Ordering):
    """Gradients of ``run_forward``: each family's fused backward, fed the merged output and
    log-sum-exp under "lse" (exact union-softmax gradient) or its own under "sum"."""
    b, n, h, d = q.shape
    device = q.device
    # a disjoint plan touches every gradient element at most once: write in the input dtype
    direct = plan.disjoint and ordering is None
    acc = q.dtype if direct else _acc_dtype(q.dtype)
    grads = [torch.zeros(b, n, h, d, dtype=acc, device=device) for _ in range(3)]
    dout = dout.to(q.dtype)
    step = iter(results or ())
    fold = _fold_heads(q, k, v, causal, ordering)
    for branch in plan.branches:
        index = gather_index(ordering, branch, n, device) if ordering is not None else None
        perm = (lambda x: x) if index is None else (lambda x: x.index_select(1, index[0]))
        qb, kb, vb, dob = perm(q), perm(k), perm(v), perm(dout)
        ob, lb = (perm(out), perm(total_lse)) if total_lse is not None else (None, None)
        gb = grads if index is None else [torch.zeros_like(g) for g in grads]
        for piece in _pieces(branch, fold):
            flag, mask = _mask(piece, index, causal, device)
            q4, k4, v4 = (view_4d(x, piece, keys) for x, keys in ((qb, False), (kb, True), (vb, True)))
            do4 = view_4d(dob, piece, keys=False)
            if plan.combine == "lse":
                o4 = view_4d(ob, piece, keys=False)
                l4 = view_4d(lb, piece, keys=False)
            else:
                o4, l4 = next(step)
            dq4, dk4, dv4 = kernels.backward(do4, q4, k4, v4, o4, l4, scale, flag, mask)
            # the backward is linear in the output gradient (given o, lse): a part's weight
            # scales its gradients as they are written, not the output gradient before
            weight = piece.weight if plan.combine == "sum" else 1.0
            for g, grad4, keys in ((gb[0], dq4, False), (gb[1], dk4, True), (gb[2], dv4, True)):
                view = rows_view(g, piece, keys=keys)
                grad4 = grad4.view(view.shape)
                if direct and weight == 1.0:
                    view.copy_(grad4)
                elif direct:
                    torch.mul(grad4, weight, out=view)
                else:
                    view.add_(grad4, alpha=weight)
        if index is not None:
            for g, g_branch in zip(grads, gb):
                g.add_(g_branch.index_select(1, index[1]))
    return tuple(g.to(q.dtype) for g in grads)


# --- one custom operator per direction, so that torch.compile traces through (fullgraph) ---
# Plans and orderings are not tensors: they are registered under a string key that the
# operators take as a constant argument.

_REGISTERED: dict[str, tuple[Plan, Ordering]] = {}


@torch._dynamo.assume_constant_result
def _register(pattern_key: str, n: int, heads: int, ordering: Ordering) -> str:
    """Key under which the operators find the pattern's plan and the ordering. Runs eagerly
    (also while torch.compile traces), so the registry holds the key before the graph runs."""
    from ringlib.patterns import by_key

    ordering_id = ordering if ordering is None or isinstance(ordering, str) else ("callable", id(ordering))
    key = f"{pattern_key}|{n}|{heads}|{ordering_id!r}"
    _REGISTERED[key] = (by_key(pattern_key).plan(n, heads), ordering)
    return key


def _saved_shapes(q: Tensor, k: Tensor, v: Tensor, plan: Plan, causal: bool, ordering: Ordering):
    """Shapes and dtypes of what the forward saves, for the fake (meta) implementation."""
    b, n, h, d = q.shape
    acc = _acc_dtype(q.dtype)
    if plan.combine == "lse":
        return [((b, n, h), acc)]
    shapes = []
    fold = _fold_heads(q, k, v, causal, ordering)
    for branch in plan.branches:
        for piece in _pieces(branch, fold):
            rows, heads = b * piece.segments, piece.lanes * piece.heads
            shapes += [((rows, piece.q_count, heads, d), q.dtype),
                       ((rows, heads, piece.q_count), acc)]
    return shapes


@torch.library.custom_op("ringlib::strided_attention", mutates_args=())
def _forward_op(q: Tensor, k: Tensor, v: Tensor, key: str, scale: float, causal: bool) -> list[Tensor]:
    plan, ordering = _REGISTERED[key]
    out, total_lse, results = run_forward(q, k, v, plan, scale, causal, ordering)
    if total_lse is not None:
        return [out, total_lse]
    # part outputs are saved in the kernels' own (rows, heads) layout: no copy
    return [out, *(t for o4, l4 in results for t in (o4.transpose(1, 2).contiguous(), l4.contiguous()))]


@_forward_op.register_fake
def _(q, k, v, key, scale, causal):
    plan, ordering = _REGISTERED[key]
    saved = _saved_shapes(q, k, v, plan, causal, ordering)
    return [torch.empty_like(q), *(q.new_empty(shape, dtype=dtype) for shape, dtype in saved)]


@torch.library.custom_op("ringlib::strided_attention_backward", mutates_args=())
def _backward_op(dout: Tensor, q: Tensor, k: Tensor, v: Tensor, saved: list[Tensor], key: str,
                 scale: float, causal: bool) -> list[Tensor]:
    plan, ordering = _REGISTERED[key]
    out, *rest = saved
    if plan.combine == "lse":
        total_lse, results = rest[0], None
    else:
        total_lse = None
        results = [(o.transpose(1, 2), lse) for o, lse in zip(rest[0::2], rest[1::2])]
    return list(run_backward(dout, q, k, v, out, total_lse, results, plan, scale, causal, ordering))


@_backward_op.register_fake
def _(dout, q, k, v, saved, key, scale, causal):
    return [torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)]


def _setup_context(ctx, inputs, output):
    q, k, v, key, scale, causal = inputs
    ctx.key, ctx.scale, ctx.causal = key, scale, causal
    ctx.save_for_backward(q, k, v, *output)


def _backward(ctx, grads):
    q, k, v, *saved = ctx.saved_tensors
    dq, dk, dv = _backward_op(grads[0].contiguous(), q, k, v, saved, ctx.key, ctx.scale, ctx.causal)
    return dq, dk, dv, None, None, None


_forward_op.register_autograd(_backward, setup_context=_setup_context)


def attention(q: Tensor, k: Tensor, v: Tensor, pattern, *, scale: float, causal: bool,
              ordering: Ordering, dropout_p: float) -> Tensor:
    """The pattern on one process (``pattern.plan`` gives its strided families)."""
    if dropout_p == 0.0 and ordering is None:  # small plans: one Triton launch per direction
        out = fused_plan.attention(q, k, v, pattern, float(scale), bool(causal))
        if out is not None:
            return out
    if dropout_p > 0.0:
        plan = pattern.plan(q.shape[1], q.shape[2])
        out, _, _ = run_forward(q, k, v, plan, scale, causal, ordering, dropout_p, fused=False)
        return out
    if not hasattr(pattern, "plan_key"):  # a user-defined pattern that did not call remember()
        from ringlib.patterns import remember

        remember(pattern)
    # plans are built per concrete (n, heads): torch.compile specialises on them
    # (compile with dynamic=False; symbolic lengths are not supported)
    key = _register(pattern.plan_key, q.shape[1], q.shape[2], ordering)
    return _forward_op(q, k, v, key, float(scale), bool(causal))[0]
