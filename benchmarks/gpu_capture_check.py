"""On a CUDA device: training-shaped capture of ``ringlib.attention`` (goal 5 of the
performance issue). Each case is compiled with ``torch.compile(fullgraph=True,
mode="reduce-overhead")`` (Inductor, then a CUDA-graph replay), run forward and backward, and
checked three ways:

* numbers: output and q/k/v gradients of the replay against the float64 reference, by the
  flash-style rule (``ringlib.testing``), with the eager call as the plain computation;
* graphs: Inductor's CUDA-graph tree recorded the call (no "cudagraph skipped" reason);
* no host synchronisation: the timed replays run under ``torch.cuda.set_sync_debug_mode("error")``,
  so a device-to-host read or a stream synchronisation raises.

It prints one row per case with eager and replay milliseconds (forward+backward) and exits 1
on any failure.

    python benchmarks/gpu_capture_check.py [--n 8192]
    python benchmarks/gpu_capture_check.py --device cpu --n 1024   # smoke run: aot_eager, no graphs
"""

from __future__ import annotations

import argparse
import gc
import sys

import torch

import ringlib
from attention import timed
from ringlib.testing import compare


def cases(n: int, h: int) -> list[tuple[str, object, bool, int]]:
    """(name, pattern, causal, length). The block-sparse case runs at n / 2: its float64
    reference holds several dense (heads, n, n) tensors."""
    nb = n // 2 // 128
    keep = torch.rand(h, nb, nb, generator=torch.Generator().manual_seed(0)) < 0.02
    keep |= torch.eye(nb, dtype=torch.bool)  # every query block keeps at least its diagonal
    return [
        ("Dilated lse", ringlib.Dilated([2048, 4096, 8192], [1, 2, 4]), False, n),
        ("Dilated lse, causal", ringlib.Dilated([2048, 4096, 8192], [1, 2, 4]), True, n),
        ("Dilated head_groups", ringlib.Dilated([2048, 4096, 8192], [1, 2, 4], mixing="head_groups"), False, n),
        ("Dense, causal", ringlib.Dense(), True, n),
        ("BlockSparse 98% (flex)", ringlib.BlockSparse(keep, block_size=128), False, n // 2),
    ]


def check(name, pattern, causal, n, h, d, iters, device) -> bool:
    cuda = device == "cuda"
    gen = torch.Generator(device=device).manual_seed(0)
    q64, k64, v64, g64 = (torch.randn(1, n, h, d, device=device, dtype=torch.float64, generator=gen) for _ in range(4))
    leaves64 = [t.clone().requires_grad_() for t in (q64, k64, v64)]
    ref = ringlib.attention(*leaves64, pattern, causal=causal, backend="reference")
    g_ref = torch.autograd.grad(ref, leaves64, g64)
    leaves = [t.detach().to(torch.bfloat16).requires_grad_() for t in (q64, k64, v64)]
    grad = g64.to(torch.bfloat16)

    def forward(q, k, v):
        return ringlib.attention(q, k, v, pattern, causal=causal)

    def step(fn):  # training-shaped: a compiled forward, its backward through autograd
        out = fn(*leaves)
        return (out, *torch.autograd.grad(out, leaves, grad))

    eager = step(forward)
    compiled = (torch.compile(forward, fullgraph=True, mode="reduce-overhead", dynamic=False) if cuda
                else torch.compile(forward, fullgraph=True, backend="aot_eager", dynamic=False))
    torch._dynamo.utils.counters.clear()
    for _ in range(3):  # warm-up and recording
        torch.compiler.cudagraph_mark_step_begin()
        got = [t.clone() for t in step(compiled)]
    skips = dict(torch._dynamo.utils.counters["inductor"])
    skipped = {k: v for k, v in skips.items() if "cudagraph_skips" in k and v}

    def replay():
        torch.compiler.cudagraph_mark_step_begin()
        step(compiled)

    sync_error = ""
    if cuda:
        torch.cuda.synchronize()
        try:
            torch.cuda.set_sync_debug_mode("error")
            for _ in range(3):
                replay()
        except RuntimeError as exc:
            sync_error = str(exc).splitlines()[0][:120]
        finally:
            torch.cuda.set_sync_debug_mode("default")
    ms_replay = timed(replay, device, iters) * 1e3
    ms_eager = timed(lambda: step(forward), device, iters) * 1e3
    results = [compare(a, p, r) for a, p, r in zip(got, eager, (ref, *g_ref))]
    worst = max(results, key=lambda c: c.tested_error / c.bound)
    ok = all(c.ok for c in results) and not skipped and not sync_error
    print(f"| {name} | {n} | {worst.tested_error:.2e} / {worst.bound:.2e} | {skipped or 'none'} | "
          f"{sync_error or 'none'} | {ms_eager:.3f} | {ms_replay:.3f} | {'PASS' if ok else 'FAIL'} |", flush=True)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n", type=int, default=8192)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--iters", type=int, default=20)
    args = parser.parse_args()
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
    where = torch.cuda.get_device_name() if args.device == "cuda" else "cpu (aot_eager, no CUDA graphs)"
    print(f"# capture check: {where}, torch {torch.__version__}, bf16, "
          f"1 x {args.n} x {args.heads} x {args.head_dim}, torch.compile(fullgraph=True, mode='reduce-overhead')\n")
    print("| case | n | worst err / bound (out, dq, dk, dv) | CUDA-graph skips | host sync in replay | "
          "eager fwd+bwd ms | replay fwd+bwd ms | ok |")
    print("|---|---|---|---|---|---|---|---|")
    failures = 0
    for name, pattern, causal, n in cases(args.n, args.heads):
        try:
            failures += not check(name, pattern, causal, n, args.heads, args.head_dim, args.iters, args.device)
        except Exception as exc:  # noqa: BLE001 - one row per case, the run goes on
            failures += 1
            print(f"| {name} | {n} | error: {type(exc).__name__}: {str(exc).splitlines()[0][:150]} | | | | | FAIL |",
                  flush=True)
        torch._dynamo.reset()  # the next case starts with this one's graphs and memory returned
        gc.collect()
        if args.device == "cuda":
            torch.cuda.empty_cache()
    print(f"\n{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
