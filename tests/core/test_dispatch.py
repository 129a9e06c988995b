"""The decision table of ``ringlib.dispatch``, fed made-up devices, dtypes and sizes (no GPU
needed: the decision is a function of facts, the machine's capabilities are patched in)."""

import pytest
import torch

import ringlib
from ringlib import compat, dispatch
from ringlib.backends import kernels

CUDA, CPU = torch.device("cuda", 0), torch.device("cpu")
BF16, F16, F32, F64 = torch.bfloat16, torch.float16, torch.float32, torch.float64
DILATED = ringlib.Dilated([64, 128], [1, 2])
SPARSE = ringlib.BlockSparse("local_window", block_size=64)
SUMMED = ringlib.BlockSparse("local_window", block_size=64, normalization="per_block_sum")


@pytest.fixture(autouse=True)
def machine(monkeypatch):
    """A machine that has Triton, FlexAttention and cuDNN, and no refusals yet."""
    monkeypatch.setattr(dispatch, "_triton_importable", lambda: True)
    monkeypatch.setattr(dispatch, "flex_available", lambda: True)
    monkeypatch.setattr(dispatch, "cudnn_supported", lambda index: True)
    monkeypatch.setattr(dispatch, "_CUDNN_REFUSED", set())


def call(device=CUDA, dtype=BF16, batch=1, n=256, heads=4, d=64, grad=False, world=1, compiling=False):
    return dispatch.Call(device, dtype, batch, n, heads, d, grad, world, compiling)


# (pattern, call, keywords) -> route
ROUTE_TABLE = [
    # a group of several ranks, or a sharded layout: the ring, its strategies in order
    (DILATED, call(world=2), {}, dispatch.Route("ring", ("strided", "blocks", "masked"))),
    (DILATED, call(world=2), {"backend": "reference"}, dispatch.Route("ring", ("masked",), math=True)),
    (SPARSE, call(world=4), {}, dispatch.Route("ring", ("blocks", "masked"))),
    (DILATED, call(world=2), {"dropout_p": 0.1}, dispatch.Route("ring", ("blocks", "masked"), math=True)),
    (DILATED, call(), {"dropout_p": 0.1, "dropout_seed": 3}, dispatch.Route("reference")),
    (SPARSE, call(), {"dropout_p": 0.1, "dropout_seed": 3}, dispatch.Route("reference")),
    (DILATED, call(), {"dropout_p": 0.0, "dropout_seed": 3}, dispatch.Route("one_launch")),
    (DILATED, call(), {"layout": "zigzag"}, dispatch.Route("ring", ("strided", "blocks", "masked"))),
    # block-sparse
    (SPARSE, call(), {"backend": "reference"}, dispatch.Route("reference")),
    (SPARSE, call(), {}, dispatch.Route("flex")),
    (SPARSE, call(dtype=F32), {}, dispatch.Route("flex")),
    (SPARSE, call(dtype=F64), {}, dispatch.Route("pairs")),
    (SPARSE, call(device=CPU, dtype=F32), {}, dispatch.Route("pairs")),
    (SPARSE, call(device=CPU, dtype=F32), {"backend": "flex"}, dispatch.Route("flex")),
    (SPARSE, call(), {"backend": "sdpa"}, dispatch.Route("pairs")),
    (SPARSE, call(), {"dropout_p": 0.1}, dispatch.Route("pairs")),
    (SUMMED, call(), {}, dispatch.Route("pairs")),
    (SUMMED, call(), {"backend": "flex"}, dispatch.Route("pairs")),
    # strided patterns: the one-launch forward where nothing rules it out
    (DILATED, call(), {}, dispatch.Route("one_launch")),
    (DILATED, call(dtype=F16), {"backend": "sdpa", "causal": True}, dispatch.Route("one_launch")),
    (ringlib.Dense(), call(d=16), {}, dispatch.Route("one_launch")),
    (DILATED, call(), {"backend": "reference"}, dispatch.Route("reference")),
    (DILATED, call(grad=True), {}, dispatch.Route("fused_plan")),  # on by default (small plans)
    (DILATED, call(grad=True), {"options": {"fused_plan": False}}, dispatch.Route("sdpa")),
    (DILATED, call(compiling=True), {}, dispatch.Route("sdpa")),
    (DILATED, call(), {"dropout_p": 0.1}, dispatch.Route("sdpa")),
    (DILATED, call(), {"ordering": "hilbert"}, dispatch.Route("sdpa")),
    (DILATED, call(d=48), {}, dispatch.Route("sdpa")),
    (DILATED, call(dtype=F32), {}, dispatch.Route("sdpa")),
    (DILATED, call(device=CPU, dtype=F16), {}, dispatch.Route("sdpa")),
    (DILATED, call(n=1 << 20), {}, dispatch.Route("sdpa")),  # too large: launches do not bind
    # under autograd: the one-launch forward + backward where switched on (fused_plan)
    (DILATED, call(grad=True), {"options": {"fused_plan": True}}, dispatch.Route("fused_plan")),
    (DILATED, call(grad=True, dtype=F16), {"causal": True, "options": {"fused_plan": True}},
     dispatch.Route("fused_plan")),
    (ringlib.Dilated([64, 128], [1, 2], mixing="head_groups"), call(grad=True), {"options": {"fused_plan": True}},
     dispatch.Route("fused_plan")),  # disjoint sum
    (compat.FirstSegment([64, 128], [1, 2]), call(grad=True), {"options": {"fused_plan": True}},
     dispatch.Route("sdpa")),  # overlapping sum: the backward needs each part's own output
    (compat.StridedKeys([64, 128], [1, 2]), call(grad=True), {"causal": True, "options": {"fused_plan": True}},
     dispatch.Route("sdpa")),
    (DILATED, call(grad=True, compiling=True), {"options": {"fused_plan": True}}, dispatch.Route("sdpa")),
    (DILATED, call(grad=True), {"dropout_p": 0.1, "options": {"fused_plan": True}}, dispatch.Route("sdpa")),
    (DILATED, call(grad=True, dtype=F32), {"options": {"fused_plan": True}}, dispatch.Route("sdpa")),
    (DILATED, call(grad=True, n=1 << 20), {"options": {"fused_plan": True}}, dispatch.Route("sdpa")),
    (DILATED, call(grad=True), {"options": {"fused_plan": True, "one_launch": False}}, dispatch.Route("fused_plan")),
    (DILATED, call(), {"options": {"fused_plan": True, "one_launch": False}}, dispatch.Route("sdpa")),
    # causal families whose queries and keys are different rows
    (compat.StridedKeys([64, 128], [1, 2]), call(), {"causal": True}, dispatch.Route("sdpa")),
    (compat.StridedKeys([64, 128], [1, 2]), call(), {}, dispatch.Route("one_launch")),
]


@pytest.mark.parametrize("pattern, facts, keywords, route", ROUTE_TABLE)
def test_route(pattern, facts, keywords, route):
    keywords = dict(keywords)
    with ringlib.kernel_options(**keywords.pop("options", {})):
        assert dispatch.choose(pattern, facts, **keywords) == route


def test_one_launch_needs_triton():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dispatch, "_triton_importable", lambda: False)
        assert dispatch.choose(DILATED, call()) == dispatch.Route("sdpa")


def test_flex_needs_flex_attention(monkeypatch):
    monkeypatch.setattr(dispatch, "flex_available", lambda: False)
    assert dispatch.choose(SPARSE, call(), backend="flex") == dispatch.Route("pairs")


def test_bad_requests_are_errors():
    with pytest.raises(ValueError, match="backend='flex' serves block-sparse patterns, not Dilated"):
        dispatch.choose(DILATED, call(), backend="flex")
    with pytest.raises(ValueError, match="BlockSparse takes no ordering"):
        dispatch.choose(SPARSE, call(), ordering="hilbert")


def test_options_move_the_one_launch_limits():
    flops = ringlib.plan.plan_flops(DILATED.plan(256, 4), 1, 64)
    with ringlib.kernel_options(one_launch_max_flops=flops):
        assert dispatch.choose(DILATED, call()).kernel == "one_launch"
    with ringlib.kernel_options(one_launch_max_flops=flops - 1):
        assert dispatch.choose(DILATED, call()).kernel == "sdpa"
    with ringlib.kernel_options(one_launch=False):
        assert dispatch.choose(DILATED, call()).kernel == "sdpa"
    assert dispatch.choose(DILATED, call()).kernel == "one_launch"  # restored
    grad = call(grad=True)
    with ringlib.kernel_options(fused_plan=True, fused_plan_max_flops=flops):
        assert dispatch.choose(DILATED, grad).kernel == "fused_plan"
    with ringlib.kernel_options(fused_plan=True, fused_plan_max_flops=flops - 1):
        assert dispatch.choose(DILATED, grad).kernel == "sdpa"


def test_call_facts_from_tensors():
    q = torch.randn(2, 32, 3, 8)
    k = torch.randn(2, 32, 3, 8, requires_grad=True)
    facts = dispatch.Call.of(q, k, q, world=2)
    assert facts == dispatch.Call(CPU, F32, 2, 32, 3, 8, True, 2, False)
    with torch.no_grad():
        assert not dispatch.Call.of(q, k, q).requires_grad


def kernel(device=CUDA, dtype=BF16, shape=(1, 8, 2048, 64), rows_k=2048, causal=False, masked=False, backward=False):
    return dispatch.fused_kernel(device, dtype, shape, rows_k, causal, masked, backward=backward)


BIG, SMALL = (2, 8, 4096, 64), (1, 8, 256, 64)  # 2^36 (the default cuDNN threshold) and 2^27 FLOPs

KERNEL_TABLE = [
    ({"device": CPU, "dtype": F64}, "cpu_flash"),
    ({"device": CPU, "dtype": BF16, "masked": True, "backward": True}, "cpu_flash"),
    ({"device": torch.device("mps"), "dtype": F32}, "math"),
    ({"dtype": F64}, "math"),
    ({"shape": BIG, "rows_k": 4096}, "cudnn"),
    ({"shape": BIG, "rows_k": 4096, "backward": True}, "cudnn"),
    ({"shape": BIG, "rows_k": 4096, "causal": True}, "cudnn"),
    ({"shape": BIG, "rows_k": 8192, "causal": True}, "flash"),  # cuDNN's causal mask on squares only
    ({"shape": (2, 8, 4096, 96), "rows_k": 4096, "dtype": F16}, "cudnn"),
    ({"shape": (2, 8, 4096, 100), "rows_k": 4096}, "flash"),  # head_dim not a multiple of 8
    ({"shape": (2, 8, 4096, 160), "rows_k": 4096}, "flash"),  # above cuDNN's 128
    ({"shape": (2, 8, 4096, 264), "rows_k": 4096}, "efficient"),  # above flash's 256
    ({"shape": SMALL, "rows_k": 256}, "flash"),  # below cudnn_min_flops
    ({"shape": BIG, "rows_k": 4096, "masked": True}, "efficient"),
    ({"shape": BIG, "rows_k": 4096, "masked": True, "backward": True}, "math"),
    ({"shape": BIG, "rows_k": 4096, "dtype": F32}, "efficient"),
    ({"shape": BIG, "rows_k": 4096, "dtype": F32, "masked": True, "backward": True}, "efficient"),
]


@pytest.mark.parametrize("facts, expected", KERNEL_TABLE)
def test_fused_kernel(facts, expected):
    assert kernel(**facts) == expected


def test_cuda_kernel_order_and_cudnn_threshold_are_options():
    with ringlib.kernel_options(cuda_kernels=("flash",)):
        assert kernel(shape=BIG, rows_k=4096) == "flash"
    with ringlib.kernel_options(cuda_kernels=("flash", "cudnn")):
        assert kernel(shape=BIG, rows_k=4096) == "flash"
    with ringlib.kernel_options(cudnn_min_flops=0):
        assert kernel(shape=SMALL, rows_k=256) == "cudnn"


def test_cudnn_refusals_are_remembered_per_problem(monkeypatch):
    assert dispatch.refuse_cudnn(CUDA, BF16, BIG, 4096, False) == "flash"
    assert kernel(shape=BIG, rows_k=4096) == "flash"
    assert kernel(shape=BIG, rows_k=4096, causal=True) == "cudnn"  # another problem
    assert kernel(shape=BIG, rows_k=4096, dtype=F16) == "cudnn"
    monkeypatch.setattr(dispatch, "cudnn_supported", lambda index: False)
    assert kernel(shape=BIG, rows_k=4096, causal=True) == "flash"


def test_kernels_run_what_dispatch_names(monkeypatch):
    q, k, v = (torch.randn(2, 3, 16, 8, dtype=torch.float64) for _ in range(3))
    mask = torch.rand(16, 16) < 0.7
    mask[:, 0] = True
    seen = []
    monkeypatch.setattr(dispatch, "fused_kernel", lambda *a, **kw: seen.append(kw) or "math")
    o, lse = kernels.forward(q, k, v, 0.3, False, mask)
    o_math, lse_math = kernels.math_forward(q, k, v, 0.3, False, mask)
    assert torch.equal(o, o_math) and torch.equal(lse, lse_math)
    grads = kernels.backward(torch.ones_like(o), q, k, v, o, lse, 0.3, False, mask)
    for a, b in zip(grads, kernels.math_backward(torch.ones_like(o), q, k, v, o, lse, 0.3, False, mask)):
        assert torch.equal(a, b)
    assert seen == [{}, {"backward": True}]


def test_kernel_options_validate_and_restore():
    before = dispatch.options()
    with pytest.raises(ValueError, match="cuda_kernels"):
        dispatch.KernelOptions(cuda_kernels=("cudnn", "math"))
    with pytest.raises(ValueError, match="one_launch_block_n must be a power of two"):
        dispatch.KernelOptions(one_launch_block_n=48)
    with pytest.raises(ValueError, match="pairs_chunk_elements"):
        dispatch.KernelOptions(pairs_chunk_elements=0)
    with pytest.raises(TypeError, match="unknown option"):
        with ringlib.kernel_options(cudnn_flops=0):
            pass
    with pytest.raises(RuntimeError):
        with ringlib.kernel_options(flex_tile=64) as chosen:
            assert dispatch.options() is chosen and chosen.flex_tile == 64
            raise RuntimeError
    assert dispatch.options() is before
    fixed = dispatch.KernelOptions(one_launch=False)
    with ringlib.kernel_options(fixed, flex_compile=False) as chosen:
        assert not chosen.one_launch and not chosen.flex_compile
