"""Which kernel runs a call: the one place where ``backend="auto"`` gets its meaning.

``choose(pattern, call, ...)`` maps the facts of one attention call (``Call``: device,
dtype, sizes, whether a gradient will be asked, how many ranks share the sequence) to its
``Route``; ``fused_kernel(...)`` picks the fused kernel of each 4-D kernel call a route makes.
Nothing else in ringlib chooses: the backends run what they are given. The settings that
shape the choice, and the launch settings of the kernels, are one frozen ``KernelOptions``;
``ringlib.kernel_options(...)`` changes them for a block of code.

Routes (``backend`` is the caller's request: "auto", "reference", "sdpa" or "flex"; the
first row that applies wins):

==============  ============================================================================
``ring``        a process group of more than one rank, or a sharded ``layout``: exact ring
                attention (``ringlib.ring``); ``Route.ring`` lists its strategies in the order
                tried (the first whose schedule fits the shards runs), with the plain math
                kernels under ``backend="reference"``; with ``dropout_p > 0`` only the
                masked strategies (``blocks``, ``masked``) with the math kernels: seeded
                position-hash dropout (``ringlib.dropout``) needs explicit probabilities,
                which the strided strategy's fused kernels never form
``reference``   ``backend="reference"``, or ``dropout_p > 0`` with a ``dropout_seed``: explicit
                masks, float64-capable ground truth (seeded dropout by position, the same
                entries the ring drops)
``flex``        BlockSparse with row softmax, no dropout, FlexAttention importable, and
                ``backend="flex"``, or "auto" on CUDA below float64
``pairs``       any other BlockSparse call: batched active block pairs (plain kernels
                under autograd where ``dropout_p > 0``)
``one_launch``  a strided pattern under "auto" or "sdpa" whose forward needs no gradient,
                outside a torch.compile trace, without ordering or dropout, on CUDA in half
                precision with head_dim 16, 32, 64 or 128, Triton importable, at most
                ``one_launch_max_flops`` plan FLOPs and, when causal, queries and keys the
                same rows in every family: the whole plan in one Triton launch (it wins
                where the per-family calls are bound by launch overhead)
``fused_plan``  the same, for a call under autograd, while ``fused_plan`` is on, at most
                ``fused_plan_max_flops`` plan FLOPs, whose combine is "lse" or a disjoint
                "sum" (head groups): the forward and the backward each in one Triton launch
                (``ringlib.backends.fused_plan``)
``sdpa``        any other strided-pattern call: one fused kernel call per family (plain
                kernels under autograd where ``dropout_p > 0``); ``backend="flex"`` is an
                error here
==============  ============================================================================

Kernels of one 4-D ``(batch, heads, rows, head_dim)`` call (``fused_kernel``):
``"cpu_flash"`` on the CPU; on CUDA in half precision without a mask and head_dim <= 256
``"cudnn"`` where it is first in ``cuda_kernels``, head_dim is a multiple of 8 up to 128,
the problem has at least ``cudnn_min_flops``, causal problems are square, the device has
it and it has not refused this problem before (a refusal falls back to ``"flash"`` and is
remembered: ``refuse_cudnn``), else ``"flash"``; ``"efficient"`` for the other CUDA calls;
``"math"`` where no fused kernel applies (other devices, float64 on CUDA) and for the
backward of masked half-precision CUDA calls (the memory-efficient one is wrong there).

Adding a kernel: write it as a module under ``ringlib/backends/`` that runs what it is
given and decides nothing; name its route in ``ROUTES`` and give it its row in ``choose``
(a kernel of single 4-D calls instead: its name and condition in ``fused_kernel``), its
tuning knobs as fields of ``KernelOptions``, its one call in ``ringlib.run.local``, and its
rows in the decision table of ``tests/core/test_dispatch.py``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from dataclasses import dataclass
from typing import Iterator, NamedTuple

import torch

from ringlib.blocksparse.pattern import BlockSparse, reject_ordering
from ringlib.patterns import Pattern
from ringlib.plan import plan_flops

BACKENDS = ("auto", "reference", "sdpa", "flex")
"""What a caller may ask for (``backend=``)."""

ROUTES = ("ring", "reference", "flex", "pairs", "one_launch", "fused_plan", "sdpa")
"""What ``choose`` may answer (``Route.kernel``)."""

FUSED_KERNELS = ("cpu_flash", "cudnn", "flash", "efficient", "math")
"""What ``fused_kernel`` may answer."""

_HALF = (torch.float16, torch.bfloat16)
_COMPILE_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_FUSED_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class KernelOptions:
    """Settings of kernel choice and launch: one frozen value, read where the kernels run."""

    cuda_kernels: tuple[str, ...] = ("cudnn", "flash")
    """Unmasked half-precision CUDA kernels, in the order tried (``"cudnn"``, ``"flash"``)."""

    cudnn_min_flops: float = 2**36
    """cuDNN costs more CPU time per call than flash (~0.1 ms): it is used where its shorter
    GPU time pays for that, problems of at least this many forward FLOPs (``4 b h rows_q
    rows_k d``; about 0.25 ms of flash on an H100, where cuDNN is about 1.5x flash for the
    short segments dilated attention makes)."""

    one_launch: bool = True
    """False sends every forward through the per-family ``sdpa`` route."""

    one_launch_max_flops: float = 2**36
    """Plans up to this many forward FLOPs take the one-launch kernel. It does 100-140 TFLOP/s
    on an H100 against 300-460 for the per-family cuDNN / flash calls, so it only wins where
    those are bound by launches (default dilated pattern, H100: 2K 2-4x faster than the
    per-family route, 8K 1.5-1.7x, 32K slower; ``benchmarks/results/h100_2026-12-07_pm``)."""

    one_launch_block_m: int = 128
    """Largest query tile of the one-launch kernel (64 where no family has more rows)."""
    one_launch_block_n: int = 64
    """Key tile of the one-launch kernel (best of a tile sweep on an H100)."""
    one_launch_num_warps: int = 8
    """Warps per program of the one-launch kernel."""
    one_launch_num_stages: int = 3
    """Software pipelining stages of the one-launch kernel."""

    fused_plan: bool = True
    """Calls under autograd of plans up to ``fused_plan_max_flops`` take the ``fused_plan``
    route (one launch forward, one backward). Checked against the float64 reference on an H100
    (``benchmarks/gpu_core_check.py --fused-only``); there it is 3x faster than the per-family
    route at 2K tokens and 1.1-1.2x at 8K, and 2x slower at 32K
    (``benchmarks/results/h100_2026-12-07_pm``)."""

    fused_plan_max_flops: float = 2**36
    """Plans up to this many forward FLOPs take the ``fused_plan`` route (the launch-bound
    regime, where one launch per direction beats tens of cuDNN / flash calls): LongNet's default
    pattern at 8 heads x 64 up to 8K tokens with "lse" (6.0e10 FLOPs at 8K), 16K with head groups."""

    fused_plan_block_m: int = 64
    """Query tile of the one-launch backward."""
    fused_plan_block_n: int = 64
    """Key tile of the one-launch backward."""
    fused_plan_num_warps: int = 4
    """Warps per program of the one-launch backward at head_dim <= 64 (8 above)."""
    fused_plan_num_stages: int = 2
    """Software pipelining stages of the one-launch backward."""

    pairs_chunk_elements: int = 1 << 26
    """Upper bound on the elements of one gathered block tensor (q, k, v or o) per chunk of
    the block-sparse ``pairs`` route: its memory, not its result."""

    flex_tile: int = 128
    """FlexAttention's sparse block size, the tile of the BlockMask built from a layout."""
    flex_compile: bool = True
    """Compile FlexAttention (False: its eager implementation, for CPU tests only)."""
    flex_compile_mode: str | None = None
    """``mode`` of that compilation (``torch.compile``'s: None, "default", "reduce-overhead",
    "max-autotune", "max-autotune-no-cudagraphs"). "reduce-overhead" replays the kernel as a
    CUDA graph, cutting the host time of each eager call (its output is cloned, since the
    graph's buffer is rewritten by the next replay). Inside a model compiled as a whole, the
    model's own mode applies."""

    def __post_init__(self) -> None:
        kernels = self.cuda_kernels
        if isinstance(kernels, str) or not isinstance(kernels, (tuple, list)):
            raise TypeError(f"cuda_kernels must be a tuple of kernel names, got {kernels!r}")
        if not kernels or len(set(kernels)) != len(kernels) or not set(kernels) <= {"cudnn", "flash"}:
            raise ValueError(f"cuda_kernels must order distinct names of ('cudnn', 'flash'), got {tuple(kernels)!r}")
        object.__setattr__(self, "cuda_kernels", tuple(kernels))
        if self.flex_compile_mode not in _COMPILE_MODES:
            raise ValueError(f"flex_compile_mode must be one of {_COMPILE_MODES}, got {self.flex_compile_mode!r}")
        for name in ("one_launch", "fused_plan", "flex_compile"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        for name in ("cudnn_min_flops", "one_launch_max_flops", "fused_plan_max_flops"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        for name in ("one_launch_block_m", "one_launch_block_n", "fused_plan_block_m", "fused_plan_block_n"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 16 or value & (value - 1):
                raise ValueError(f"{name} must be a power of two >= 16 (a Triton dot tile), got {value!r}")
        for name in ("one_launch_num_warps", "one_launch_num_stages", "fused_plan_num_warps",
                     "fused_plan_num_stages", "pairs_chunk_elements", "flex_tile"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")


_current = KernelOptions()


def options() -> KernelOptions:
    """The options in force (process-wide, like ``torch.backends`` flags)."""
    return _current


@contextlib.contextmanager
def kernel_options(base: KernelOptions | None = None, /, **changes) -> Iterator[KernelOptions]:
    """Run a block with other kernel options: ``base`` (default: those in force) with
    ``changes`` applied, e.g. ``with ringlib.kernel_options(cuda_kernels=("flash",)):``.
    The previous options come back when the block ends. A torch.compile'd graph that read
    them is recompiled for new values."""
    global _current
    unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(KernelOptions)})
    if unknown:
        raise TypeError(f"kernel_options got unknown option(s) {unknown}; options: "
                        f"{[f.name for f in dataclasses.fields(KernelOptions)]}")
    if base is not None and not isinstance(base, KernelOptions):
        raise TypeError(f"kernel_options takes a KernelOptions or keywords, got {type(base).__name__}")
    chosen = dataclasses.replace(base if base is not None else _current, **changes)
    previous, _current = _current, chosen
    try:
        yield chosen
    finally:
        _current = previous


# --- the facts of a call and the answer --------------------------------------------------


class Call(NamedTuple):
    """What ``choose`` looks at besides the pattern and the caller's arguments."""

    device: torch.device
    dtype: torch.dtype
    batch: int
    length: int  # rows of the sequence this process holds
    heads: int
    head_dim: int
    requires_grad: bool = False  # a gradient will be asked of this call
    world: int = 1  # ranks sharing the sequence
    compiling: bool = False  # inside a torch.compile trace

    @classmethod
    def of(cls, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, world: int = 1) -> "Call":
        b, n, h, d = q.shape
        grad = torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)
        return cls(q.device, q.dtype, b, n, h, d, grad, world, torch.compiler.is_compiling())


class Route(NamedTuple):
    kernel: str  # one of ROUTES
    ring: tuple[str, ...] = ()  # ring strategies in the order tried
    math: bool = False  # plain math kernels (the ring under backend="reference")


def has_plan(pattern: Pattern) -> bool:
    """The pattern decomposes into strided families (``Pattern.plan``)."""
    return type(pattern)._plan is not Pattern._plan


def choose(pattern: Pattern, call: Call, *, backend: str = "auto", causal: bool = False, ordering=None,
           dropout_p: float = 0.0, layout: str = "contiguous", dropout_seed: int | None = None) -> Route:
    """The route of one call (the table in the module docstring)."""
    opts = _current
    if call.world > 1 or layout != "contiguous":
        if backend == "reference":
            return Route("ring", ("masked",), math=True)
        if dropout_p > 0.0:
            return Route("ring", ("blocks", "masked"), math=True)
        return Route("ring", ("strided", "blocks", "masked") if has_plan(pattern) else ("blocks", "masked"))
    if dropout_p > 0.0 and dropout_seed is not None:
        if isinstance(pattern, BlockSparse):
            reject_ordering(ordering)
        return Route("reference")
    if isinstance(pattern, BlockSparse):
        reject_ordering(ordering)
        if backend == "reference":
            return Route("reference")
        if (pattern.normalization == "softmax" and dropout_p == 0.0 and flex_available()
                and (backend == "flex"
                     or (backend == "auto" and call.device.type == "cuda" and call.dtype != torch.float64))):
            return Route("flex")
        return Route("pairs")
    if backend == "reference":
        return Route("reference")
    if backend == "flex":
        raise ValueError(f"backend='flex' serves block-sparse patterns, not {type(pattern).__name__}")
    if (dropout_p == 0.0 and ordering is None and not call.compiling
            and (opts.fused_plan if call.requires_grad else opts.one_launch)
            and one_launch_supported(call.device, call.dtype, call.head_dim)):
        plan = pattern.plan(call.length, call.heads)
        flops = plan_flops(plan, call.batch, call.head_dim)
        if causal and not plan.self_attending:
            return Route("sdpa")
        if not call.requires_grad and flops <= opts.one_launch_max_flops:
            return Route("one_launch")
        if (call.requires_grad and flops <= opts.fused_plan_max_flops
                and (plan.combine == "lse" or plan.disjoint)):  # the backward recomputes from
            return Route("fused_plan")  # the final output: exact for these combines only
    return Route("sdpa")


# --- one 4-D kernel call -------------------------------------------------------------------


_CUDNN_REFUSED: set[tuple] = set()  # problem signatures cuDNN declined: not tried again


def _signature(device: torch.device, dtype: torch.dtype, shape_q, rows_k: int, causal: bool) -> tuple:
    return (dtype, shape_q[-1], shape_q[2], rows_k, causal, device.index)


def fused_kernel(device: torch.device, dtype: torch.dtype, shape_q, rows_k: int, causal: bool, masked: bool,
                 *, backward: bool = False) -> str:
    """The kernel of one call on ``q`` of ``shape_q`` ``(batch, heads, rows_q, head_dim)``
    against ``rows_k`` keys, ``masked`` by an explicit mask or not (see the module docstring)."""
    cuda = device.type == "cuda"
    if device.type not in ("cpu", "cuda") or dtype not in _FUSED_DTYPES or (cuda and dtype == torch.float64):
        return "math"
    if not cuda:
        return "cpu_flash"
    half = dtype in _HALF
    if not masked and half and shape_q[-1] <= 256:
        return "cudnn" if _cudnn_applies(device, dtype, shape_q, rows_k, causal) else "flash"
    if backward and masked and half:  # the memory-efficient backward with a bias returns
        return "math"  # garbage in half precision (torch 2.11, H100)
    return "efficient"


def _cudnn_applies(device, dtype, shape_q, rows_k: int, causal: bool) -> bool:
    """cuDNN is first in line, available, and not known to refuse this problem. Its causal
    mask is only used on square problems (where top-left and bottom-right agree)."""
    opts = _current
    b, h, rows_q, d = shape_q
    return (
        opts.cuda_kernels[0] == "cudnn"
        and (not causal or rows_q == rows_k)
        and d % 8 == 0 and d <= 128
        and 4 * b * h * rows_q * rows_k * d >= opts.cudnn_min_flops
        and cudnn_supported(device.index)
        and _signature(device, dtype, shape_q, rows_k, causal) not in _CUDNN_REFUSED
    )


def refuse_cudnn(device: torch.device, dtype: torch.dtype, shape_q, rows_k: int, causal: bool) -> str:
    """cuDNN declined this problem (it had no plan for it): remember that, run flash."""
    _CUDNN_REFUSED.add(_signature(device, dtype, shape_q, rows_k, causal))
    return "flash"


# --- what this machine has -------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def cudnn_supported(index: int | None) -> bool:
    return (torch.backends.cudnn.is_available() and hasattr(torch.ops.aten, "_scaled_dot_product_cudnn_attention")
            and torch.cuda.get_device_capability(index) >= (8, 0))


@functools.lru_cache(maxsize=1)
def _triton_importable() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def one_launch_supported(device: torch.device, dtype: torch.dtype, head_dim: int) -> bool:
    """The one-launch Triton forward can run on such tensors."""
    return device.type == "cuda" and dtype in _HALF and head_dim in (16, 32, 64, 128) and _triton_importable()


@torch._dynamo.assume_constant_result  # a constant while torch.compile traces (no import in the graph)
@functools.lru_cache(maxsize=1)
def flex_available() -> bool:
    try:
        import torch.nn.attention.flex_attention  # noqa: F401
    except ImportError:  # pragma: no cover - torch < 2.5
        return False
    return True
