"""Forward and forward+backward time of ``ringlib.attention`` against dense SDPA.

Effective FLOPs follow the performance issue: ``4 b d sum_i heads_i n w_i / r_i^2`` for a
dilated pattern (heads_i = heads that compute pattern i), ``4 b d h n^2`` for dense
attention; forward+backward counts 3.5x the forward. Peak memory is reported as
peak-minus-baseline on CUDA (allocator statistics) and is not measured on CPU.

    python benchmarks/attention.py --device cpu --lengths 2048,4096          # small, on CPU
    python benchmarks/attention.py --device cuda --lengths 8192,32768,131072  # one H100
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

import ringlib


def timed(fn, device: str, iters: int, warmup: int = 3) -> float:
    """Median seconds of ``fn()``."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iters):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            samples.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
    return sorted(samples)[len(samples) // 2]


def dilated_flops(pattern: ringlib.Dilated, b: int, n: int, h: int, d: int) -> float:
    total = 0.0
    groups = pattern.head_groups(h)
    for i, (w, r) in enumerate(zip(pattern.segment_lengths, pattern.dilation_rates)):
        heads = h if pattern.mixing == "lse" else groups[i][1]
        total += heads * n * min(w, n) / r**2
    return 4.0 * b * d * total


def segment_batched(pattern: ringlib.Dilated, backend: SDPBackend, b: int, n: int, h: int, d: int, dtype):
    """The per-FLOP ceiling of a dilated pattern: each branch as ONE dense SDPA call over
    contiguous ``(b * n / w, heads, w / r, d)`` tensors (segments, residue lanes and
    heads batched), no gathers, no combine. Returns ``(fn, leaves, output gradients)`` for
    ``measure``, which then times exactly the dense kernels."""
    groups = pattern.head_groups(h)
    shapes = []
    for i, (w, r) in enumerate(zip(pattern.segment_lengths, pattern.dilation_rates)):
        w = min(w, n)
        heads = h if pattern.mixing == "lse" else groups[i][1]
        # lse: every head takes one residue lane; head groups: the group's heads, one lane each
        shapes.append((b * (n // w), heads, w // r))
    tensors = [torch.randn(rows, heads, m, d, device="cuda", dtype=dtype, requires_grad=True)
               for rows, heads, m in shapes for _ in range(3)]
    grads = [torch.randn(rows, heads, m, d, device="cuda", dtype=dtype) for rows, heads, m in shapes]

    def fn(*_):
        with sdpa_kernel([backend]):
            return [F.scaled_dot_product_attention(*tensors[3 * i: 3 * i + 3]) for i in range(len(shapes))]

    return fn, tensors, grads


def measure(name, fn, flops, args, q, k, v, backward: bool = True):
    def fwd():
        with torch.no_grad():
            fn(q, k, v)

    # the segment-batched ceiling passes its own leaves and output gradients as q and k
    inputs, grad = (tuple(q), k) if isinstance(q, list) else ((q, k, v), torch.randn_like(q))

    def fwd_bwd():  # gradients returned, not accumulated into .grad (no extra pass)
        torch.autograd.grad(fn(q, k, v), inputs, grad)

    row = {"case": name, "fwd+bwd_ms": float("nan"), "fwd+bwd_tflops": float("nan"), "fwd+bwd_peak_mib": float("nan")}
    cases = (("fwd", fwd, 1.0), ("fwd+bwd", fwd_bwd, 3.5)) if backward else (("fwd", fwd, 1.0),)
    for label, call, factor in cases:
        if args.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        seconds = timed(call, args.device, args.iters)
        row[f"{label}_ms"] = seconds * 1e3
        row[f"{label}_tflops"] = factor * flops / seconds / 1e12
        if args.device == "cuda":
            row[f"{label}_peak_mib"] = (torch.cuda.max_memory_allocated() - base) / 2**20
        for t in inputs:
            t.grad = None
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default=None, help="default: bfloat16 on cuda, float32 on cpu")
    parser.add_argument("--lengths", default="2048,4096")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--segments", default="2048,4096,8192")
    parser.add_argument("--rates", default="1,2,4")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--no-dense-above", type=int, default=1 << 30,
                        help="skip dense SDPA above this length (time/memory)")
    parser.add_argument("--graphs-up-to", type=int, default=131072,
                        help="also time torch.compile(mode='reduce-overhead') (CUDA graphs) up to this length")
    parser.add_argument("--json", default=None, help="write the rows as JSON here")
    defaults = ringlib.KernelOptions()
    parser.add_argument("--cuda-kernels", default=",".join(defaults.cuda_kernels),
                        help="order of ringlib's half-precision CUDA kernels (cudnn,flash or flash)")
    parser.add_argument("--no-fused-forward", action="store_true",
                        help="forwards without autograd take the per-family path, not the one-launch Triton kernel")
    parser.add_argument("--fused-max-flops", type=float, default=None,
                        help="override the plan size limit of both one-launch routes (one_launch, fused_plan)")
    parser.add_argument("--fused-plan", action=argparse.BooleanOptionalAction, default=None,
                        help="calls under autograd take the fused_plan route (default: KernelOptions.fused_plan)")
    parser.add_argument("--ceiling", action="store_true",
                        help="also time the segment-batched dense cuDNN and flash calls (the per-FLOP ceiling)")
    parser.add_argument("--cudnn-min-flops", type=float, default=None,
                        help="override ringlib.KernelOptions.cudnn_min_flops")
    args = parser.parse_args()
    changes = {"cuda_kernels": tuple(args.cuda_kernels.split(",")), "one_launch": not args.no_fused_forward}
    if args.cudnn_min_flops is not None:
        changes["cudnn_min_flops"] = args.cudnn_min_flops
    if args.fused_plan is not None:
        changes["fused_plan"] = args.fused_plan
    if args.fused_max_flops is not None:
        changes["one_launch_max_flops"] = changes["fused_plan_max_flops"] = args.fused_max_flops
    # one compiled graph per (length, pattern, grad mode), all from the same lambda's code
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
    with ringlib.kernel_options(**changes) as options:
        run(args, options)


def run(args, options: ringlib.KernelOptions) -> None:
    dtype = getattr(torch, args.dtype) if args.dtype else (torch.bfloat16 if args.device == "cuda" else torch.float32)
    segments = [int(x) for x in args.segments.split(",")]
    rates = [int(x) for x in args.rates.split(",")]
    b, h, d = args.batch, args.heads, args.head_dim
    rows = []
    for n in (int(x) for x in args.lengths.split(",")):
        q, k, v = (torch.randn(b, n, h, d, device=args.device, dtype=dtype, requires_grad=True) for _ in range(3))
        if n <= args.no_dense_above:
            def dense(q, k, v):
                return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                                      v.transpose(1, 2)).transpose(1, 2)

            rows.append({"n": n, **measure("dense sdpa", dense, 4.0 * b * d * h * n * n, args, q, k, v)})
            if args.device == "cuda":  # the performance issue's reference: the flash kernel
                def dense_flash(q, k, v):
                    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
                        return dense(q, k, v)

                rows.append({"n": n, **measure("dense sdpa (flash)", dense_flash, 4.0 * b * d * h * n * n,
                                               args, q, k, v)})
        for mixing in ("lse", "head_groups"):
            pattern = ringlib.Dilated(segments, rates, mixing=mixing)
            flops = dilated_flops(pattern, b, n, h, d)
            eager = lambda q, k, v, pattern=pattern: ringlib.attention(q, k, v, pattern)  # noqa: E731
            rows.append({"n": n, **measure(f"dilated {mixing}", eager, flops, args, q, k, v)})
            if args.ceiling and args.device == "cuda":
                for label, backend in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION)):
                    fn, tensors, grads = segment_batched(pattern, backend, b, n, h, d, dtype)
                    rows.append({"n": n, **measure(f"segment-batched {label} ({mixing})", fn, flops, args,
                                                   tensors, grads, None)})
                    del fn, tensors, grads
            if args.device == "cuda" and n <= args.graphs_up_to:
                compiled = torch.compile(eager, mode="reduce-overhead", fullgraph=True, dynamic=False)

                def graphed(q, k, v, compiled=compiled):
                    torch.compiler.cudagraph_mark_step_begin()  # each call is a new step
                    return compiled(q, k, v)

                rows.append({"n": n, **measure(f"dilated {mixing} (CUDA graph)", graphed, flops, args, q, k, v)})
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or "cpu"
    print(f"# ringlib attention benchmark: {device_name}, torch {torch.__version__}, {dtype}, "
          f"batch {b}, heads {h}, head_dim {d}, segments {segments}, rates {rates}, "
          f"ringlib CUDA kernels {options.cuda_kernels} (cuDNN from {options.cudnn_min_flops:.3g} FLOPs), "
          f"no-grad forward {'one Triton launch' if options.one_launch else 'per family'} "
          f"up to {options.one_launch_max_flops:.3g} FLOPs, autograd "
          f"{'one Triton launch per direction' if options.fused_plan else 'per family'} "
          f"up to {options.fused_plan_max_flops:.3g} FLOPs, "
          f"{datetime.date.today().isoformat()}")
    keys = ["n", "case", "fwd_ms", "fwd_tflops", "fwd+bwd_ms", "fwd+bwd_tflops"]
    if args.device == "cuda":
        keys += ["fwd_peak_mib", "fwd+bwd_peak_mib"]
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k]) for k in keys) + " |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": device_name, "torch": torch.__version__, "dtype": str(dtype),
                       "date": datetime.date.today().isoformat(), "cuda_kernels": list(options.cuda_kernels),
                       "fused_plan": options.fused_plan, "fused_plan_max_flops": options.fused_plan_max_flops,
                       "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
