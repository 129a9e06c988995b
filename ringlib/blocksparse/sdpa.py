"""The ``sdpa`` path of block-sparse attention: batched active block pairs.

Every active pair (query block, key block) is one ``bs x bs`` attention; all pairs of a chunk
go through one fused kernel call that also returns the log-sum-exp (``backends.kernels``).
Then, per query block row:

* ``softmax``: the pairs merge by log-sum-exp into the row softmax over all their keys;
* ``per_block_sum``: the pairs' outputs are summed, each times its multiplicity.

Memory is ``O(active pairs * bs * d)``: linear in the sequence length for a fixed number of
active blocks per row, never ``O(n^2)``. Work is cut into chunks of whole rows so that the
gathered blocks stay under ``KernelOptions.pairs_chunk_elements`` per tensor.

Backward is a custom autograd function that recomputes instead of storing per-pair results:
under ``softmax`` the fused backward kernel of each pair is fed the *merged* output and
log-sum-exp, which is exactly the gradient of the row softmax; under ``per_block_sum`` each
pair's ``(o, lse)`` is recomputed. Per-pair weights (the adaptive module's gates) are
differentiable: a weight ``w`` scales the pair's unnormalised mass (``softmax``) or its
output (``per_block_sum``), and its gradient is exact also at ``w = 0``.
"""

from __future__ import annotations

import torch

from ringlib import dispatch
from ringlib.backends import kernels
from ringlib.blocksparse import prepared
from ringlib.blocksparse.pairs import BlockPairs
from ringlib.lse import combine as combine_lse

Tensor = torch.Tensor

#: stands in for ``L - log(0)`` (a zero-weight pair has probability exactly 0)
_FAR = 1e30


def _acc(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def to_blocks(x: Tensor, nb: int, bs: int, layout_heads: int) -> Tensor:
    """``(b, n, h, d)`` -> ``(b * h // layout_heads, layout_heads * nb, bs, d)``: the blocks
    of one batch row and head group by slot ``layout_head * nb + block``."""
    b, _, h, d = x.shape
    xb = x[:, : nb * bs].reshape(b, nb, bs, h, d).permute(0, 3, 1, 2, 4)  # (b, h, nb, bs, d)
    return xb.reshape(b * (h // layout_heads), layout_heads * nb, bs, d)


def from_blocks(xs: Tensor, b: int, n: int, h: int) -> Tensor:
    """Inverse of ``to_blocks``; tokens past the last whole block are zero."""
    _, slots, bs, d = xs.shape
    nb = slots * xs.shape[0] // (b * h)
    x = xs.reshape(b, h, nb, bs, d).permute(0, 2, 3, 1, 4).reshape(b, nb * bs, h, d)
    if nb * bs < n:
        x = torch.cat([x, x.new_zeros(b, n - nb * bs, h, d)], 1)
    return x


def _combine(pieces, batch: int, rows: int, bs: int, d: int, softmax: bool, acc: torch.dtype, device):
    """Merge per-pair results ``(local_row, o, lse, weight)`` into their rows: one LSE merge
    (``ringlib.lse.combine``) under ``softmax``, else the weighted sum."""
    if not softmax:
        out = torch.zeros(batch, rows, bs, d, dtype=acc, device=device)
        for r, o, _, w in pieces:
            out = out.index_add(1, r, o * w.view(1, -1, 1, 1))
        return out, None
    if not pieces:
        return (torch.zeros(batch, rows, bs, d, dtype=acc, device=device),
                torch.full((batch, rows, bs), float("-inf"), dtype=acc, device=device))
    index, outs, lses, weights = zip(*pieces)
    return combine_lse(outs, lses, index=index, rows=rows, weights=weights)


def _run(qs, ks, vs, pairs: BlockPairs, chunks, weights, scale: float, softmax: bool, attend):
    """Forward over ``chunks`` (slot ranges of whole rows); ``attend(q, k, v, causal) -> (o, lse)``
    is the kernel."""
    batch, slots, bs, d = qs.shape
    acc = _acc(qs.dtype)
    if len(chunks) == 1 and chunks[0] == (0, slots):  # one chunk holds every row: its result is the result
        return _chunk(qs, ks, vs, pairs, 0, slots, weights, softmax, attend, acc)
    out = torch.zeros(batch, slots, bs, d, dtype=acc, device=qs.device)
    lse = torch.full((batch, slots, bs), float("-inf"), dtype=acc, device=qs.device) if softmax else None
    for s0, s1 in chunks:
        o_rows, l_rows = _chunk(qs, ks, vs, pairs, s0, s1, weights, softmax, attend, acc)
        out[:, s0:s1] = o_rows
        if softmax:
            lse[:, s0:s1] = l_rows
    return out, lse


def _chunk(qs, ks, vs, pairs: BlockPairs, s0: int, s1: int, weights, softmax: bool, attend, acc):
    """The rows ``[s0, s1)`` (slots) merged from their pairs: ``(o, lse)`` (lse None unless ``softmax``)."""
    batch, _, bs, d = qs.shape
    pieces = []
    for group, w in zip(pairs.groups, weights):
        p0, p1 = group.row_ptr[s0], group.row_ptr[s1]
        if p0 == p1:
            continue
        qi, ki = group.q_slot[p0:p1], group.kv_slot[p0:p1]
        o, l = attend(qs.index_select(1, qi), ks.index_select(1, ki), vs.index_select(1, ki), group.causal)
        pieces.append((qi - s0 if s0 else qi, o.to(acc), l.to(acc), w[p0:p1].to(acc)))
    return _combine(pieces, batch, s1 - s0, bs, d, softmax, acc, qs.device)


def forward_blocks(q, k, v, pairs: BlockPairs, chunks, nb: int, bs: int, layout_heads: int, scale: float,
                   softmax: bool, weights):
    """``(out, out_s, lse_s)``: the output ``(b, n, h, d)`` and what the backward needs (the
    output by block slots and, under ``softmax``, its log-sum-exp)."""
    b, n, h, _ = q.shape
    qs, ks, vs = (to_blocks(x, nb, bs, layout_heads) for x in (q, k, v))
    out_s, lse_s = _run(qs, ks, vs, pairs, chunks, weights, scale, softmax,
                        lambda a, b_, c, causal: kernels.forward(a, b_, c, scale, causal, None))
    out_s = out_s.to(q.dtype)
    return from_blocks(out_s, b, n, h), out_s, lse_s


def backward_blocks(dout, q, k, v, out_s, lse_s, pairs: BlockPairs, chunks, nb: int, bs: int, layout_heads: int,
                    scale: float, softmax: bool, weights, need_w):
    """``(dq, dk, dv, dweights)`` (``dweights[i]`` None unless ``need_w[i]``)."""
    b, n, h, d = q.shape
    acc = _acc(q.dtype)
    qs, ks, vs = (to_blocks(x, nb, bs, layout_heads) for x in (q, k, v))
    dos = to_blocks(dout.to(q.dtype), nb, bs, layout_heads).contiguous()
    grads = [torch.zeros(qs.shape, dtype=acc, device=q.device) for _ in range(3)]
    dws = [torch.zeros_like(w) if nw else None for w, nw in zip(weights, need_w)]
    for s0, s1 in chunks:
        for gi, (group, w) in enumerate(zip(pairs.groups, weights)):
            p0, p1 = group.row_ptr[s0], group.row_ptr[s1]
            if p0 == p1:
                continue
            qi, ki = group.q_slot[p0:p1], group.kv_slot[p0:p1]
            qp, kp, vp = qs.index_select(1, qi), ks.index_select(1, ki), vs.index_select(1, ki)
            dop = dos.index_select(1, qi)
            wp = w[p0:p1].to(acc)
            if softmax:
                o_row, l_row = out_s.index_select(1, qi), lse_s.index_select(1, qi)
                positive = (wp > 0).view(1, -1, 1)
                lse_given = torch.where(positive, l_row - torch.log(torch.where(positive, wp.view(1, -1, 1), 1.0)),
                                        torch.full_like(l_row, _FAR))
                dq, dk, dv = kernels.backward(dop, qp, kp, vp, o_row, lse_given.contiguous(), scale,
                                              group.causal, None)
                if need_w[gi]:
                    o_p, l_p = kernels.forward(qp, kp, vp, scale, group.causal, None)
                    frac = torch.where(torch.isfinite(l_row), torch.exp(l_p.to(acc) - l_row), 0.0)
                    gain = (dop.to(acc) * (o_p.to(acc) - o_row.to(acc))).sum(-1)
                    dws[gi][p0:p1] += (frac * gain).sum((0, 2)).to(w.dtype)
            else:
                o_p, l_p = kernels.forward(qp, kp, vp, scale, group.causal, None)
                scaled = (dop.to(acc) * wp.view(1, -1, 1, 1)).to(q.dtype)
                dq, dk, dv = kernels.backward(scaled.contiguous(), qp, kp, vp, o_p, l_p, scale,
                                              group.causal, None)
                if need_w[gi]:
                    dws[gi][p0:p1] += (dop.to(acc) * o_p.to(acc)).sum((0, 2, 3)).to(w.dtype)
            grads[0].index_add_(1, qi, dq.to(acc))
            grads[1].index_add_(1, ki, dk.to(acc))
            grads[2].index_add_(1, ki, dv.to(acc))
    dq, dk, dv = (from_blocks(g.to(q.dtype), b, n, h) for g in grads)
    return dq, dk, dv, dws


class _BlockSparseFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, pairs, chunks, nb, bs, layout_heads, scale, softmax, *weights):
        out, out_s, lse_s = forward_blocks(q, k, v, pairs, chunks, nb, bs, layout_heads, scale, softmax, weights)
        ctx.save_for_backward(q, k, v, out_s, lse_s if softmax else None, *weights)
        ctx.meta = (pairs, chunks, nb, bs, layout_heads, scale, softmax)
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v, out_s, lse_s, *weights = ctx.saved_tensors
        need_w = [ctx.needs_input_grad[10 + i] for i in range(len(weights))]
        dq, dk, dv, dws = backward_blocks(dout, q, k, v, out_s, lse_s, *ctx.meta, weights, need_w)
        return (dq, dk, dv, None, None, None, None, None, None, None, *dws)


def _max_pairs(batch: int, bs: int, d: int) -> int:
    return max(1, dispatch.options().pairs_chunk_elements // (batch * bs * d))


def attention(q: Tensor, k: Tensor, v: Tensor, pairs: BlockPairs, *, block_size: int, layout_heads: int,
              scale: float, softmax: bool, weights: tuple[Tensor, ...] | None = None,
              dropout_p: float = 0.0, fused: bool = True, chunks=None) -> Tensor:
    """Block-sparse attention of ``(b, n, h, d)`` tensors over ``pairs``.

    ``weights``: one tensor per pair group (default: the pairs' multiplicities).
    ``dropout_p > 0`` (or ``fused=False``) runs the plain math kernel under autograd: dropout
    on each pair's probabilities equals dropout on the row's (they differ by a per-pair
    factor), and the autograd graph is an independent check of the custom backward.
    ``chunks``: the slot ranges of ``pairs.chunks`` if already known.
    """
    nb = q.shape[1] // block_size
    if chunks is None:
        chunks = pairs.chunks(_max_pairs(q.shape[0] * q.shape[2] // layout_heads, block_size, q.shape[3]))
    if weights is None:
        weights = tuple(g.count for g in pairs.groups)
    if dropout_p > 0.0 or not fused:
        b, n, h, _ = q.shape
        qs, ks, vs = (to_blocks(x, nb, block_size, layout_heads) for x in (q, k, v))
        out_s, _ = _run(qs, ks, vs, pairs, chunks, weights, scale, softmax,
                        lambda a, b_, c, causal: kernels.math_forward(a, b_, c, scale, causal, None, dropout_p))
        return from_blocks(out_s.to(q.dtype), b, n, h)
    return _BlockSparseFunction.apply(q, k, v, pairs, chunks, nb, block_size, layout_heads, float(scale),
                                      softmax, *weights)


def max_pairs(q: Tensor, block_size: int, layout_heads: int) -> int:
    """Pairs per chunk for ``(b, n, h, d)`` inputs (``KernelOptions.pairs_chunk_elements``)."""
    return _max_pairs(q.shape[0] * q.shape[2] // layout_heads, block_size, q.shape[3])


# --- a pattern's call: prepared work lists; custom operators under torch.compile -----------------
# The operators take the prepared entry's string key (``prepared.traced_key``), never the
# layout: torch.compile traces through them (fullgraph) and the graph holds no layout tensor.


def pattern_attention(q: Tensor, k: Tensor, v: Tensor, pattern, *, scale: float, causal: bool,
                      dropout_p: float = 0.0) -> Tensor:
    """A ``BlockSparse`` pattern on ``(b, n, h, d)`` tensors over its prepared pairs."""
    n, heads = q.shape[1], q.shape[2]
    if torch.compiler.is_compiling() and dropout_p == 0.0:
        key = prepared.traced_key(pattern.plan_key, n, heads, causal, q.device)
        return _forward_op(q, k, v, key, float(scale))[0]
    entry = prepared.prepare(pattern, n, heads, causal, q.device)
    softmax = pattern.normalization == "softmax"
    pairs = entry.pairs()
    chunks = entry.chunks(max_pairs(q, pattern.block_size, entry.layout_heads))
    if dropout_p > 0.0:
        return attention(q, k, v, pairs, block_size=pattern.block_size, layout_heads=entry.layout_heads,
                         scale=scale, softmax=softmax, dropout_p=dropout_p, chunks=chunks)
    return _BlockSparseFunction.apply(q, k, v, pairs, chunks, entry.nb, pattern.block_size, entry.layout_heads,
                                      float(scale), softmax, *(g.count for g in pairs.groups))


def _work(q: Tensor, key: str):
    entry = prepared.by_key(key)
    pairs = entry.pairs()
    bs = entry.pattern.block_size
    chunks = entry.chunks(max_pairs(q, bs, entry.layout_heads))
    weights = tuple(g.count for g in pairs.groups)
    return entry, pairs, chunks, (entry.nb, bs, entry.layout_heads), weights


@torch.library.custom_op("ringlib::block_sparse", mutates_args=())
def _forward_op(q: Tensor, k: Tensor, v: Tensor, key: str, scale: float) -> list[Tensor]:
    entry, pairs, chunks, shape, weights = _work(q, key)
    softmax = entry.pattern.normalization == "softmax"
    out, out_s, lse_s = forward_blocks(q, k, v, pairs, chunks, *shape, scale, softmax, weights)
    if out.untyped_storage().data_ptr() == out_s.untyped_storage().data_ptr():
        out = out.clone(memory_format=torch.contiguous_format)  # a view of out_s: outputs may not alias
    return [out, out_s, lse_s] if softmax else [out, out_s]


@_forward_op.register_fake
def _(q, k, v, key, scale):
    entry = prepared.by_key(key)
    b, _, h, d = q.shape
    bs, lh = entry.pattern.block_size, entry.layout_heads
    blocks = (b * h // lh, lh * entry.nb, bs)
    saved = [q.new_empty((*blocks, d))]
    if entry.pattern.normalization == "softmax":
        saved.append(q.new_empty(blocks, dtype=_acc(q.dtype)))
    return [torch.empty_like(q), *saved]


@torch.library.custom_op("ringlib::block_sparse_backward", mutates_args=())
def _backward_op(dout: Tensor, q: Tensor, k: Tensor, v: Tensor, saved: list[Tensor], key: str,
                 scale: float) -> list[Tensor]:
    entry, pairs, chunks, shape, weights = _work(q, key)
    softmax = entry.pattern.normalization == "softmax"
    out_s, lse_s = saved[0], (saved[1] if softmax else None)
    dq, dk, dv, _ = backward_blocks(dout, q, k, v, out_s, lse_s, pairs, chunks, *shape, scale, softmax, weights,
                                    [False] * len(weights))
    return [dq.contiguous(), dk.contiguous(), dv.contiguous()]  # the layout the fake kernel states


@_backward_op.register_fake
def _(dout, q, k, v, saved, key, scale):
    return [torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)]


def _setup_context(ctx, inputs, output):
    q, k, v, key, scale = inputs
    ctx.key, ctx.scale = key, scale
    ctx.save_for_backward(q, k, v, *output[1:])


def _backward(ctx, grads):
    q, k, v, *saved = ctx.saved_tensors
    dq, dk, dv = _backward_op(grads[0].contiguous(), q, k, v, saved, ctx.key, ctx.scale)
    return dq, dk, dv, None, None


_forward_op.register_autograd(_backward, setup_context=_setup_context)
