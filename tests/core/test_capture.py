"""Capture: every public entry compiles with ``torch.compile(fullgraph=True)`` and gives the
eager numbers, forward and backward; the per-call path makes no host synchronisation.

A host synchronisation is a device-to-host read: ``item``/``int``/``bool`` of a tensor
(``aten._local_scalar_dense``), ``tolist``, or an op whose output size depends on values
(``nonzero``, ``unique``, boolean-mask indexing). On CUDA each stalls the CPU until the
GPU catches up and breaks CUDA-graph capture; on the CPU the same ops are caught here by a
dispatch mode, after one warm-up call has filled the caches (what is derived from the
layout is built once, not per call).

Most cases compile with the ``aot_eager`` backend (Dynamo's capture and AOTAutograd's
functional graphs are what graph breaks and host reads fail; it costs a fraction of
Inductor's CPU code generation); a few representative ones with Inductor itself.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import ringlib

B, N, H, D = 1, 64, 2, 8
BS = 16  # block size: 4 blocks


def _counts() -> torch.Tensor:
    """Per-head integer layout with a multiplicity above one (``per_block_sum`` sums it twice)."""
    c = torch.zeros(H, N // BS, N // BS, dtype=torch.int64)
    c[0] = torch.eye(N // BS, dtype=torch.int64)
    c[0, 2, 0] = 2
    c[1] = 1
    c[1, 0, 3] = 0
    return c


def _band(nb: int, heads: int) -> torch.Tensor:
    i = torch.arange(nb)
    return (i[:, None] - i[None, :]).abs() <= 1


PATTERNS = {
    "dense": ringlib.Dense(),
    "dilated_lse": ringlib.Dilated([16, 32], [1, 2]),
    "dilated_head_groups": ringlib.Dilated([16, 32], [1, 2], mixing="head_groups"),
    "local_window": ringlib.BlockSparse("local_window", block_size=BS, window_size=3 * BS),
    "dilated_blocks": ringlib.BlockSparse("dilated", block_size=BS, dilation_rates=[1, 2]),
    "global_local": ringlib.BlockSparse("global_local", block_size=BS, global_blocks=1, window_size=BS),
    "hierarchical": ringlib.BlockSparse("hierarchical", block_size=BS, seed=3),
    "explicit_layout": ringlib.BlockSparse(_counts() > 0, block_size=BS),
    "callable_layout": ringlib.BlockSparse(_band, block_size=BS),
    "per_block_sum": ringlib.BlockSparse(_counts(), block_size=BS, normalization="per_block_sum"),
    "partial_tail": ringlib.BlockSparse("local_window", block_size=24, window_size=72, partial_tail="zero"),
}

# (pattern, keyword arguments of ringlib.attention)
CALLS = {
    **{name: (name, {}) for name in PATTERNS},
    "dilated_lse_causal": ("dilated_lse", {"causal": True}),
    "dilated_hilbert": ("dilated_lse", {"ordering": "hilbert"}),
    "local_window_causal": ("local_window", {"causal": True}),
    "per_block_sum_causal": ("per_block_sum", {"causal": True}),
    "explicit_layout_scale": ("explicit_layout", {"scale": 0.3}),
}

INDUCTOR = {"dilated_lse", "local_window", "per_block_sum_causal"}


def _inputs(requires_grad: bool = True):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(B, N, H, D, generator=g).requires_grad_(requires_grad) for _ in range(3)]


def _run(fn, inputs, backward: bool = True):
    out = fn(*inputs)
    if not backward:
        return out.detach(), ()
    grad = torch.linspace(-1, 1, out.numel()).view(out.shape)
    grads = torch.autograd.grad(out, inputs, grad)
    return out.detach(), grads


def _assert_same(compiled, eager):
    (out_c, grads_c), (out_e, grads_e) = compiled, eager
    torch.testing.assert_close(out_c, out_e, rtol=1e-5, atol=1e-6)
    for gc, ge in zip(grads_c, grads_e, strict=True):
        torch.testing.assert_close(gc, ge, rtol=1e-5, atol=1e-6)


def _compiled(fn, backend: str):
    torch._dynamo.reset()
    return torch.compile(fn, fullgraph=True, dynamic=False, backend=backend)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_attention_compiles_fullgraph_with_eager_numbers(name):
    pattern_name, kwargs = CALLS[name]
    pattern = PATTERNS[pattern_name]

    def fn(q, k, v):
        return ringlib.attention(q, k, v, pattern, **kwargs)

    backend = "inductor" if name in INDUCTOR else "aot_eager"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _assert_same(_run(_compiled(fn, backend), _inputs()), _run(fn, _inputs()))


def test_flex_route_compiles_fullgraph_forward():
    """FlexAttention has no CPU backward: the flex route is checked forward, both as the
    FlexAttention call traced inside the enclosing graph and against its eager numbers."""
    pattern = PATTERNS["explicit_layout"]

    def fn(q, k, v):
        return ringlib.attention(q, k, v, pattern, backend="flex")

    inputs = _inputs(requires_grad=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = _run(_compiled(fn, "inductor"), inputs, backward=False)
        with ringlib.kernel_options(flex_compile=False):
            eager = _run(fn, inputs, backward=False)
    _assert_same(compiled, eager)
    reference = ringlib.attention(*inputs, pattern, backend="reference")
    torch.testing.assert_close(compiled[0], reference, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("module", ["dilated", "multihead", "multihead_block_sparse"])
def test_modules_compile_fullgraph(module):
    torch.manual_seed(0)
    if module == "dilated":
        m = ringlib.DilatedAttention(PATTERNS["dilated_lse"])
        inputs = _inputs()
    else:
        pattern = PATTERNS["local_window" if module == "multihead_block_sparse" else "dilated_head_groups"]
        m = ringlib.MultiheadDilatedAttention(H * D, H, pattern)
        inputs = [torch.randn(B, N, H * D, requires_grad=True)]

    def fn(*xs):
        return m(*xs, is_causal=True)

    _assert_same(_run(_compiled(fn, "aot_eager"), inputs), _run(fn, inputs))


def test_adaptive_batch_shared_selection_compiles_on_a_fixed_layout():
    """The adaptive module's batch-shared layout is chosen from the values (that is its
    point): the attention over a chosen layout is the capturable part."""
    torch.manual_seed(0)
    m = ringlib.AdaptiveBlockSparseAttention(H, D, block_size=BS, top_k=2, selection="batch_threshold")
    q, k, v = _inputs()
    layout = m.shared_layout(q, k)
    pattern = ringlib.BlockSparse(layout, block_size=BS)

    def fn(q, k, v):
        return ringlib.attention(q, k, v, pattern)

    eager = _run(lambda q, k, v: m.attend_shared(q, k, v, layout), [q, k, v])
    _assert_same(_run(_compiled(fn, "aot_eager"), [q, k, v]), eager)


@pytest.mark.parametrize("name", ["DilatedAttention", "MultiheadDilatedAttention", "BlockSparseRingDilatedAttention"])
def test_shim_preserve_classes_compile_fullgraph(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import dilated_attention_pytorch as old

        torch.manual_seed(0)
        if name == "DilatedAttention":
            m = old.DilatedAttention([16, 32], [1, 2])
            inputs = _inputs()
        elif name == "MultiheadDilatedAttention":
            m = old.MultiheadDilatedAttention(H * D, H, [1, 2], [16, 32])
            x = torch.randn(B, N, H * D, requires_grad=True)
            inputs = [x, x, x]
        else:
            m = old.BlockSparseRingDilatedAttention([16, 32], [1, 2], sparse_config={"block_size": BS})
            inputs = _inputs()

        def fn(*xs):
            out = m(*xs)
            return out[0] if isinstance(out, tuple) else out

        _assert_same(_run(_compiled(fn, "aot_eager"), inputs), _run(fn, inputs))


# --- no host synchronisation per call -----------------------------------------------------------

_SYNCS = {
    torch.ops.aten._local_scalar_dense.default,
    torch.ops.aten.is_nonzero.default,
    torch.ops.aten.equal.default,
    torch.ops.aten.nonzero.default,
    torch.ops.aten.masked_select.default,
    torch.ops.aten._unique2.default,
    torch.ops.aten.unique_dim.default,
    torch.ops.aten.unique_consecutive.default,
    torch.ops.aten.repeat_interleave.Tensor,
}


class _NoHostSync(TorchDispatchMode):
    """Fails on every op that reads device values on the host."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _SYNCS:
            raise AssertionError(f"host synchronisation on the per-call path: {func}")
        if func in (torch.ops.aten.index.Tensor, torch.ops.aten.index_put.default,
                    torch.ops.aten.index_put_.default):
            if any(i is not None and i.dtype == torch.bool for i in args[1]):
                raise AssertionError(f"boolean-mask indexing (a host synchronisation) on the per-call path: {func}")
        return func(*args, **kwargs)


def _no_tolist(*args, **kwargs):
    raise AssertionError("Tensor.tolist on the per-call path (a host synchronisation)")


def test_the_host_sync_detector_detects():
    x = torch.ones(3)
    with pytest.raises(AssertionError, match="host synchronisation"), _NoHostSync():
        int(x.sum())
    with pytest.raises(AssertionError, match="host synchronisation"), _NoHostSync():
        x[x > 0]


@pytest.mark.parametrize("name", sorted(CALLS))
def test_per_call_path_makes_no_host_sync(name, monkeypatch):
    pattern_name, kwargs = CALLS[name]
    pattern = PATTERNS[pattern_name]
    inputs = _inputs()
    _run(lambda q, k, v: ringlib.attention(q, k, v, pattern, **kwargs), inputs)  # warm-up: builds the caches
    monkeypatch.setattr(torch.Tensor, "tolist", _no_tolist)
    with _NoHostSync():
        _run(lambda q, k, v: ringlib.attention(q, k, v, pattern, **kwargs), inputs)


def test_flex_route_per_call_makes_no_host_sync(monkeypatch):
    """ringlib's part of a flex call (look-ups, the BlockMask, the layout changes around the
    kernel); the kernel is torch's FlexAttention, stood in for by a recorder here (its eager
    form cannot run under a dispatch mode)."""
    from ringlib.blocksparse import flex

    pattern = PATTERNS["local_window"]
    inputs = _inputs(requires_grad=False)
    seen = []

    def kernel(q, k, v, *, block_mask, scale):
        seen.append(block_mask)
        return q * scale

    monkeypatch.setattr(flex, "_kernel", lambda compiled, mode=None: kernel)
    ringlib.attention(*inputs, pattern, backend="flex")  # warm-up: builds the BlockMask
    monkeypatch.setattr(torch.Tensor, "tolist", _no_tolist)
    with _NoHostSync():
        ringlib.attention(*inputs, pattern, backend="flex")
    assert len(seen) == 2 and seen[0] is seen[1]  # one BlockMask, built once


def test_layout_work_is_built_once_per_call_signature():
    from ringlib.blocksparse import prepared

    pattern = PATTERNS["per_block_sum"]
    inputs = _inputs(requires_grad=False)
    ringlib.attention(*inputs, pattern)
    entry = prepared.prepare(pattern, N, H, False, torch.device("cpu"))
    pairs = entry.pairs()
    ringlib.attention(*inputs, pattern)
    equal = ringlib.BlockSparse(_counts(), block_size=BS, normalization="per_block_sum")  # equal by value
    assert prepared.prepare(equal, N, H, False, torch.device("cpu")) is entry and entry.pairs() is pairs
    assert prepared.prepare(pattern, N, H, True, torch.device("cpu")) is not entry


# --- the CUDA-graph option of the eager flex call (the capture itself needs a GPU) -------------


def test_flex_compile_mode_reaches_torch_compile_and_the_output_is_owned(monkeypatch):
    from ringlib.blocksparse import flex

    modes, buffer = [], torch.zeros(B, H, N, D)

    def fake_compile(fn, *, dynamic, mode):
        modes.append(mode)

        def replay(q, k, v, *, block_mask, scale):  # a CUDA graph writes one buffer on every replay
            return buffer.copy_(q * scale)
        return replay

    monkeypatch.setattr(torch, "compile", fake_compile)
    flex._kernel.cache_clear()
    try:
        inputs = _inputs(requires_grad=False)
        with ringlib.kernel_options(flex_compile_mode="reduce-overhead"):
            first = ringlib.attention(*inputs, PATTERNS["local_window"], backend="flex")
            second = ringlib.attention(*[x * 2 for x in inputs], PATTERNS["local_window"], backend="flex")
    finally:
        flex._kernel.cache_clear()
    assert modes == ["reduce-overhead"]
    torch.testing.assert_close(second, 2 * first)  # the first result survived the second replay


def test_flex_compile_mode_is_checked():
    with pytest.raises(ValueError, match="flex_compile_mode"):
        ringlib.KernelOptions(flex_compile_mode="fast")
