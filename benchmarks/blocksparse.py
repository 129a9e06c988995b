"""Block-sparse attention: memory growth on CPU, speed and memory against dense SDPA on GPU.

    # CPU: peak memory of the sdpa path vs n for a fixed number of active blocks per row
    python benchmarks/blocksparse.py memory --lengths 2048,4096,8192,16384,32768,65536 \
        --out benchmarks/results/blocksparse_cpu_memory

    # GPU: 90% / 98% sparsity vs dense flash SDPA, forward and forward+backward
    python benchmarks/blocksparse.py speed --lengths 8192,16384,32768,65536,131072 \
        --out benchmarks/results/blocksparse_h100

Effective FLOPs count only the computed blocks: ``4 b h d * (active pairs * bs^2)`` for the
sparse paths (``... * bs (bs + 1) / 2`` on causal diagonal pairs), ``4 b h d n^2`` (halved
when causal) for dense attention; forward+backward counts 3.5x the forward. ``--out PATH``
writes ``PATH.json`` and ``PATH.md``.

CPU memory is the peak resident set of a fresh child process per length (Linux
``/proc/self/clear_refs`` resets the high-water mark right before the measured call), minus
the resident set just before it: what the call itself needs on top of its inputs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import ringlib
from attention import timed  # benchmarks/attention.py (this folder is on sys.path when run as a script)


# ---------------------------------------------------------------------------------------------
# layouts


def random_layout(nb: int, per_row: int, seed: int = 0) -> torch.Tensor:
    """``per_row`` active key blocks per query block row: the diagonal plus random others."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(nb, nb, generator=g)
    noise.fill_diagonal_(2.0)  # always keep the diagonal
    idx = noise.topk(min(per_row, nb), dim=-1).indices
    return torch.zeros(nb, nb, dtype=torch.bool).scatter_(1, idx, True)


def pattern_flops(layout: torch.Tensor, bs: int, b: int, h: int, d: int, causal: bool) -> float:
    if causal:
        diag = int(layout.diagonal().sum())
        below = int(layout.tril(-1).sum())
        pairs = below * bs * bs + diag * bs * (bs + 1) / 2
    else:
        pairs = int(layout.sum()) * bs * bs
    return 4.0 * b * h * d * pairs


# ---------------------------------------------------------------------------------------------
# CPU memory


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(args) -> None:
    """Run one measurement in this (fresh) process and print it as JSON."""
    torch.set_num_threads(args.threads)
    n, bs, h, d = args.n, args.block_size, args.heads, args.head_dim
    q, k, v = (torch.randn(1, n, h, d, requires_grad=args.backward) for _ in range(3))
    grad = torch.randn(1, n, h, d)
    if args.what == "masked_dense":  # dense SDPA with an explicit n x n block mask, for contrast
        nb = n // bs
        i = torch.arange(nb)
        allowed = ((i[:, None] - i[None, :]).abs() <= args.radius)

        def run():
            mask = allowed.repeat_interleave(bs, 0).repeat_interleave(bs, 1)
            return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                                  attn_mask=mask).transpose(1, 2)
    elif args.what == "dense":
        def run():
            return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                                  v.transpose(1, 2)).transpose(1, 2)
    else:
        pattern = ringlib.BlockSparse("local_window", block_size=bs, window_size=(2 * args.radius + 1) * bs,
                                      normalization=args.what)
        ringlib.attention(q[:, :bs * 2], k[:, :bs * 2], v[:, :bs * 2], pattern)  # warm imports/caches

        def run():
            return ringlib.attention(q, k, v, pattern, backend="sdpa")
    before = _rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    t0 = time.perf_counter()
    out = run()
    if args.backward:
        out.backward(grad)
    seconds = time.perf_counter() - t0
    peak = _rss_kib("VmHWM")
    print(json.dumps({"n": n, "what": args.what, "backward": args.backward, "peak_mib": (peak - before) / 1024,
                      "seconds": seconds}))


def memory(args) -> list[dict]:
    rows = []
    for what in args.what.split(","):
        for n in [int(x) for x in args.lengths.split(",")]:
            if what == "masked_dense" and n > args.max_masked:
                continue
            for backward in (False, True):
                cmd = [sys.executable, __file__, "_child", "--n", str(n), "--what", what,
                       "--block-size", str(args.block_size), "--heads", str(args.heads),
                       "--head-dim", str(args.head_dim), "--radius", str(args.radius),
                       "--threads", str(args.threads)] + (["--backward"] if backward else [])
                res = subprocess.run(cmd, capture_output=True, text=True, check=True)
                row = json.loads(res.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(f"{what:>14} n={n:>6} {'fwd+bwd' if backward else 'fwd':>7}: "
                      f"{row['peak_mib']:9.1f} MiB  {row['seconds']:.3f} s", flush=True)
    return rows


def memory_markdown(rows, args, command: str) -> str:
    lines = [
        "# Block-sparse `sdpa` path: peak CPU memory vs sequence length",
        "",
        f"* date: {datetime.date.today().isoformat()}",
        f"* machine: {os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}), "
        f"torch {torch.__version__}, {args.threads} thread(s)",
        f"* command: `{command}`",
        f"* shapes: batch 1, {args.heads} heads, head_dim {args.head_dim}, float32, block {args.block_size}, "
        f"local band of {2 * args.radius + 1} blocks per row (fixed as n grows)",
        "* peak = resident-set high-water mark during the call minus the resident set before it "
        "(fresh process per row)",
        "",
        "| path | n | fwd peak MiB | fwd+bwd peak MiB | MiB per 1K tokens (fwd+bwd) |",
        "|---|---|---|---|---|",
    ]
    by_key = {(r["what"], r["n"], r["backward"]): r for r in rows}
    for what in args.what.split(","):
        for n in sorted({r["n"] for r in rows if r["what"] == what}):
            f, fb = by_key[(what, n, False)], by_key[(what, n, True)]
            lines.append(f"| {what} | {n} | {f['peak_mib']:.1f} | {fb['peak_mib']:.1f} | "
                         f"{fb['peak_mib'] / (n / 1024):.2f} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# GPU speed


def peak_mib(fn) -> float:
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def speed(args) -> list[dict]:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 256)
    dtype = getattr(torch, args.dtype)
    b, h, d, bs = args.batch, args.heads, args.head_dim, args.block_size
    rows = []
    for n in [int(x) for x in args.lengths.split(",")]:
        q, k, v = (torch.randn(b, n, h, d, device="cuda", dtype=dtype, requires_grad=True) for _ in range(3))
        grad = torch.randn_like(q)
        nb = n // bs
        cases = [("dense flash SDPA", None, None, 4.0 * b * h * d * n * n / (2 if args.causal else 1))]
        for sparsity in [float(s) for s in args.sparsity.split(",")]:
            layout = random_layout(nb, max(1, round((1 - sparsity) * nb)))
            flops = pattern_flops(layout, bs, b, h, d, args.causal)
            for backend, norm in (("flex", "softmax"), ("sdpa", "softmax"), ("sdpa", "per_block_sum")):
                if backend not in args.backends.split(","):
                    continue
                cases.append((f"{backend} {norm} {sparsity:.0%}", ringlib.BlockSparse(layout, bs, norm), backend, flops))
                if backend == "flex":  # the same call captured whole: torch.compile(fullgraph=True, mode=...)
                    for mode in filter(None, args.compile_modes.split(",")):
                        cases.append((f"{backend} {norm} {sparsity:.0%} compiled {mode}",
                                      ringlib.BlockSparse(layout, bs, norm), (backend, mode), flops))
        for name, pattern, backend, flops in cases:
            if pattern is None:
                def call():
                    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                        return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                                              is_causal=args.causal).transpose(1, 2)
            elif isinstance(backend, tuple):
                def attend(q, k, v, pattern=pattern, backend=backend[0]):
                    return ringlib.attention(q, k, v, pattern, causal=args.causal, backend=backend)

                compiled = torch.compile(attend, fullgraph=True, dynamic=False, mode=backend[1])

                def call(compiled=compiled):
                    torch.compiler.cudagraph_mark_step_begin()  # a new step for CUDA-graph replays
                    return compiled(q, k, v)
            else:
                def call(pattern=pattern, backend=backend):
                    return ringlib.attention(q, k, v, pattern, causal=args.causal, backend=backend)

            def fwd():
                with torch.no_grad():
                    call()

            def fwd_bwd():
                call().backward(grad)
                q.grad = k.grad = v.grad = None

            row = {"n": n, "case": name, "dtype": args.dtype, "causal": args.causal}
            try:
                row["fwd_ms"] = timed(fwd, "cuda", args.iters) * 1e3
                row["fwd_bwd_ms"] = timed(fwd_bwd, "cuda", args.iters) * 1e3
                row["fwd_tflops"] = flops / (row["fwd_ms"] / 1e3) / 1e12
                row["fwd_bwd_tflops"] = 3.5 * flops / (row["fwd_bwd_ms"] / 1e3) / 1e12
                row["fwd_peak_mib"] = peak_mib(fwd)
                row["fwd_bwd_peak_mib"] = peak_mib(fwd_bwd)
            except Exception as err:  # noqa: BLE001 - a row that fails is reported, not fatal
                row["error"] = f"{type(err).__name__}: {err}"[:300]
            rows.append(row)
            print(json.dumps(row), flush=True)
        del q, k, v, grad
        torch.cuda.empty_cache()
    return rows


def speed_markdown(rows, args, command: str) -> str:
    lines = [
        "# Block-sparse attention vs dense flash SDPA",
        "",
        f"* date: {datetime.date.today().isoformat()}",
        f"* device: {torch.cuda.get_device_name()}, torch {torch.__version__}",
        f"* command: `{command}`",
        f"* shapes: batch {args.batch}, {args.heads} heads, head_dim {args.head_dim}, {args.dtype}, "
        f"block {args.block_size}, causal={args.causal}; random layouts (diagonal + random blocks, "
        "same count per row)",
        "* TFLOP/s are effective: only computed blocks count; fwd+bwd = 3.5x forward FLOPs",
        "",
        "| n | case | fwd ms | fwd TFLOP/s | fwd+bwd ms | fwd+bwd TFLOP/s | fwd peak MiB | fwd+bwd peak MiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['n']} | {r['case']} | error: {r['error']} | | | | | |")
            continue
        lines.append(f"| {r['n']} | {r['case']} | {r['fwd_ms']:.3f} | {r['fwd_tflops']:.1f} | {r['fwd_bwd_ms']:.3f} | "
                     f"{r['fwd_bwd_tflops']:.1f} | {r['fwd_peak_mib']:.0f} | {r['fwd_bwd_peak_mib']:.0f} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------


def write(out: str | None, rows, markdown: str) -> None:
    if not out:
        return
    base = Path(out)
    if base.suffix in (".md", ".json"):
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    base.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    base.with_suffix(".md").write_text(markdown)
    print(f"wrote {base.with_suffix('.md')} and {base.with_suffix('.json')}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    mem = sub.add_parser("memory", help="CPU peak memory of the sdpa path vs n")
    mem.add_argument("--lengths", default="2048,4096,8192,16384,32768,65536")
    mem.add_argument("--what", default="softmax,per_block_sum,dense,masked_dense")
    mem.add_argument("--max-masked", type=int, default=16384, help="largest n for the n x n masked baseline")
    sp = sub.add_parser("speed", help="GPU speed and memory vs dense flash SDPA")
    sp.add_argument("--lengths", default="8192,16384,32768,65536,131072")
    sp.add_argument("--sparsity", default="0.9,0.98")
    sp.add_argument("--dtype", default="bfloat16")
    sp.add_argument("--batch", type=int, default=1)
    sp.add_argument("--causal", action="store_true")
    sp.add_argument("--iters", type=int, default=10)
    sp.add_argument("--backends", default="flex,sdpa", help="ringlib backends to time (flex, sdpa)")
    sp.add_argument("--compile-modes", default="",
                    help="comma list of torch.compile modes (e.g. default,reduce-overhead): adds rows of the "
                         "flex call compiled whole with fullgraph=True in each mode")
    sp.add_argument("--flex-mode", default=None,
                    help="KernelOptions.flex_compile_mode of the eager rows (e.g. reduce-overhead)")
    ch = sub.add_parser("_child")
    ch.add_argument("--n", type=int, required=True)
    ch.add_argument("--what", required=True)
    ch.add_argument("--backward", action="store_true")
    for p in (mem, sp, ch):
        p.add_argument("--block-size", type=int, default=128)
        p.add_argument("--heads", type=int, default=8 if p is sp else 4)
        p.add_argument("--head-dim", type=int, default=64)
        p.add_argument("--out", default=None)
    for p in (mem, ch):
        p.add_argument("--radius", type=int, default=1, help="band radius in blocks (2r+1 blocks per row)")
        p.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    command = "python " + " ".join([os.path.relpath(__file__)] + sys.argv[1:])
    if args.mode == "_child":
        child(args)
        return 0
    if args.mode == "memory":
        rows = memory(args)
        write(args.out, rows, memory_markdown(rows, args, command))
        return 0
    if not torch.cuda.is_available():
        print("speed mode needs CUDA", file=sys.stderr)
        return 2
    with ringlib.kernel_options(flex_compile_mode=getattr(args, "flex_mode", None)):
        rows = speed(args)
    write(args.out, rows, speed_markdown(rows, args, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
