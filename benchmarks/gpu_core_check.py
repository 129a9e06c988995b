"""On a CUDA device: the strided backend against the float64 reference, in every dtype.

Prints one row per (pattern, dtype, causal, ordering) with the flash-style rule verdict for
the output and the q/k/v gradients; exits 1 on any failure.

    python benchmarks/gpu_core_check.py
    python benchmarks/gpu_core_check.py --fused-only   # the one-launch forward+backward alone
"""

from __future__ import annotations

import sys

import torch

import ringlib
from ringlib import compat, dispatch
from ringlib.testing import compare

PATTERNS = [
    ringlib.Dense(),
    ringlib.Dilated([64, 128, 256], [1, 2, 4]),
    ringlib.Dilated([64, 128, 256], [1, 2, 4], mixing="head_groups"),
    ringlib.Dilated([48, 200], [3, 5]),
    compat.Regions([128, 256], [1, 2]),
    compat.FirstSegment([128, 256], [1, 2]),
    compat.StridedKeys([128, 256], [1, 2]),
]


# half-precision CUDA kernel choices (ringlib.KernelOptions): (order, cuDNN from FLOPs)
KERNEL_CHOICES = [(("cudnn", "flash"), 0), (("flash",), 0)]


def main() -> int:
    if "--fused-only" in sys.argv[1:]:  # the one-launch autograd path alone (quick)
        failures = check_fused_plan()
        print(f"\n{failures} failure(s); torch {torch.__version__}, {torch.cuda.get_device_name()}")
        return 1 if failures else 0
    failures = 0
    for order, min_flops in KERNEL_CHOICES:
        with ringlib.kernel_options(cuda_kernels=order, cudnn_min_flops=min_flops):
            print(f"\n## half-precision kernels: {' then '.join(order)}\n")
            failures += check_all()
    print("\n## forwards without autograd (one Triton launch per plan)\n")
    failures += check_inference()
    print("\n## forward + backward, one Triton launch per direction (every plan size)\n")
    failures += check_fused_plan()
    print(f"\n{failures} failure(s); torch {torch.__version__}, {torch.cuda.get_device_name()}")
    return 1 if failures else 0


def check_inference() -> int:
    failures = 0
    n, h, d = 300, 5, 64
    gen = torch.Generator().manual_seed(1)
    qkv = torch.randn(2, n, 3, h, d, generator=gen, dtype=torch.float64).to("cuda")
    base = qkv.unbind(2)  # strided operands, as a fused projection makes them
    print("| pattern | dtype | causal | out err / bound | ok |")
    print("|---|---|---|---|---|")
    for pattern in PATTERNS:
        for causal in (False, True):
            ref = ringlib.attention(*base, pattern, causal=causal, backend="reference")
            for dtype in (torch.bfloat16, torch.float16):
                lo = [t.to(dtype) for t in base]
                with torch.no_grad():
                    plain = ringlib.attention(*lo, pattern, causal=causal, backend="reference")
                    out = ringlib.attention(*lo, pattern, causal=causal, backend="sdpa")
                c = compare(out, plain, ref)
                ok = c.ok and not torch.isnan(out).any()
                failures += not ok
                print(f"| {pattern!r} | {str(dtype)[6:]} | {causal} | {c.tested_error:.2e} / {c.bound:.2e} | "
                      f"{'PASS' if ok else 'FAIL'} |")
    return failures


def check_fused_plan() -> int:
    """The ``fused_plan`` route at every plan size (``ringlib.attention`` under autograd with
    the route switched on), and the ``one_launch`` forward of the same call without autograd,
    on strided operands, against the float64 reference (the output column is the worse of
    the two)."""
    failures = 0
    n, h, d = 300, 5, 64
    gen = torch.Generator().manual_seed(2)
    qkv = torch.randn(2, n, 3, h, d, generator=gen, dtype=torch.float64).to("cuda")
    grad = torch.randn(2, n, h, d, generator=gen, dtype=torch.float64).to("cuda")
    print("| pattern | dtype | causal | out err / bound | worst grad err / bound | ok |")
    print("|---|---|---|---|---|---|")
    for pattern in PATTERNS:
        for causal in (False, True):
            leaves = [t.clone().requires_grad_() for t in qkv.unbind(2)]
            ref = ringlib.attention(*leaves, pattern, causal=causal, backend="reference")
            g_ref = torch.autograd.grad(ref, leaves, grad)
            for dtype in (torch.bfloat16, torch.float16):
                lo = [t.detach().to(dtype).requires_grad_() for t in qkv.unbind(2)]
                plain = ringlib.attention(*lo, pattern, causal=causal, backend="reference")
                g_plain = torch.autograd.grad(plain, lo, grad.to(dtype))
                lo2 = [t.detach().to(dtype).requires_grad_() for t in qkv.unbind(2)]
                with ringlib.kernel_options(fused_plan=True, fused_plan_max_flops=float("inf")):
                    route = dispatch.choose(pattern, dispatch.Call.of(*lo2), causal=causal).kernel
                    if route != "fused_plan":
                        print(f"| {pattern!r} | {str(dtype)[6:]} | {causal} | not taken (route {route}) | | |")
                        continue
                    out = ringlib.attention(*lo2, pattern, causal=causal)
                g_out = torch.autograd.grad(out, lo2, grad.to(dtype))
                with torch.no_grad(), ringlib.kernel_options(one_launch_max_flops=float("inf")):
                    forward_only = ringlib.attention(*lo2, pattern, causal=causal)  # the one_launch route
                c_out = max(compare(out, plain, ref), compare(forward_only, plain, ref),
                            key=lambda c: c.tested_error / c.bound)
                c_grads = [compare(a, p, r) for a, p, r in zip(g_out, g_plain, g_ref)]
                worst = max(c_grads, key=lambda c: c.tested_error / c.bound)
                ok = c_out.ok and all(c.ok for c in c_grads) and not any(torch.isnan(g).any() for g in g_out)
                failures += not ok
                print(f"| {pattern!r} | {str(dtype)[6:]} | {causal} | {c_out.tested_error:.2e} / {c_out.bound:.2e} | "
                      f"{worst.tested_error:.2e} / {worst.bound:.2e} | {'PASS' if ok else 'FAIL'} |")
    return failures


def check_all() -> int:
    device = "cuda"
    failures = 0
    n, h, d = 300, 5, 64
    gen = torch.Generator().manual_seed(0)
    base = [torch.randn(2, n, h, d, generator=gen, dtype=torch.float64) for _ in range(3)]
    grad = torch.randn(2, n, h, d, generator=gen, dtype=torch.float64)
    print("| pattern | dtype | causal | ordering | out err / bound | worst grad err / bound | ok |")
    print("|---|---|---|---|---|---|---|")
    for pattern in PATTERNS:
        for causal in (False, True):
            for ordering in (None, "hilbert"):
                q64, k64, v64 = (t.to(device).requires_grad_() for t in base)
                ref = ringlib.attention(q64, k64, v64, pattern, causal=causal, ordering=ordering, backend="reference")
                g_ref = torch.autograd.grad(ref, (q64, k64, v64), grad.to(device))
                for dtype in (torch.float32, torch.bfloat16, torch.float16):
                    lo = [t.detach().to(dtype).requires_grad_() for t in (q64, k64, v64)]
                    plain = ringlib.attention(*lo, pattern, causal=causal, ordering=ordering, backend="reference")
                    g_plain = torch.autograd.grad(plain, lo, grad.to(device, dtype))
                    lo2 = [t.detach().clone().requires_grad_() for t in lo]
                    out = ringlib.attention(*lo2, pattern, causal=causal, ordering=ordering, backend="sdpa")
                    g_out = torch.autograd.grad(out, lo2, grad.to(device, dtype))
                    c_out = compare(out, plain, ref)
                    c_grads = [compare(a, p, r) for a, p, r in zip(g_out, g_plain, g_ref)]
                    worst = max(c_grads, key=lambda c: c.tested_error / c.bound)
                    ok = c_out.ok and all(c.ok for c in c_grads) and not torch.isnan(out).any()
                    failures += not ok
                    print(f"| {pattern!r} | {str(dtype)[6:]} | {causal} | {ordering} | "
                          f"{c_out.tested_error:.2e} / {c_out.bound:.2e} | "
                          f"{worst.tested_error:.2e} / {worst.bound:.2e} | {'PASS' if ok else 'FAIL'} |")
    return failures


if __name__ == "__main__":
    sys.exit(main())
