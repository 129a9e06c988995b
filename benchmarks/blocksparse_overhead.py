"""Host (CPU-side) time of one block-sparse ``ringlib.attention`` call, outside its kernels.

On tiny tensors the kernels cost almost nothing, so the time per call is what Python,
validation, dispatch, cache look-ups and launches cost: the part that keeps block-sparse
attention at 98% sparsity far below dense flash on a GPU (the kernels there take
tens of microseconds). Each row is the median, over ``--repeats`` rounds, of the mean time
per call of ``--calls`` back-to-back calls (one device synchronisation per round).

    python benchmarks/blocksparse_overhead.py --out benchmarks/results/blocksparse_overhead_cpu
    python benchmarks/blocksparse_overhead.py --device cuda --out blocksparse_overhead_cuda

Rows: ``entry`` is ``ringlib.attention`` (forward, no autograd); ``route`` is the same
route's work list run directly (the pairs route's batched kernels; for flex the compiled
FlexAttention call with its BlockMask already built): ``entry - route`` is what the entry
adds per call. ``--profile`` prints the top functions of the entry call (cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import json
import os
import platform
import pstats
import sys
import time
from pathlib import Path

import torch

import ringlib
from ringlib import dispatch


def per_call(fn, device: str, calls: int, repeats: int) -> float:
    """Median over ``repeats`` of the mean seconds per call of ``calls`` back-to-back calls."""
    for _ in range(3):
        fn()
    samples = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        if device == "cuda":
            torch.cuda.synchronize()
        samples.append((time.perf_counter() - t0) / calls)
    return sorted(samples)[len(samples) // 2]


def cases(args):
    """``(name, entry, route)`` callables on tiny tensors."""
    dev = torch.device(args.device)
    dtype = torch.float32 if args.device == "cpu" else torch.bfloat16
    n, h, d, bs = args.length, args.heads, args.head_dim, args.block_size
    q, k, v = (torch.randn(1, n, h, d, device=dev, dtype=dtype) for _ in range(3))
    window = ringlib.BlockSparse("local_window", block_size=bs, window_size=3 * bs)
    out = []
    for backend in args.backends.split(","):
        pattern = window

        def entry(pattern=pattern, backend=backend):
            return ringlib.attention(q, k, v, pattern, backend=backend)

        route = _route(backend, q, k, v, pattern)
        out.append((f"{backend} local_window", entry, route))
    return out


def _route(backend: str, q, k, v, pattern):
    """The route's own work on a prepared layout, without the entry around it."""
    from ringlib.blocksparse import flex, sdpa

    n, heads = q.shape[1], q.shape[2]
    scale = q.shape[-1] ** -0.5
    if backend == "flex":
        opts = dispatch.options()
        mask = flex.block_mask(pattern, n, heads, False, q.device, opts.flex_tile)
        kernel = flex._kernel(opts.flex_compile)
        qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
        return lambda: kernel(qt, kt, vt, block_mask=mask, scale=scale)
    pairs = pattern.pairs(n, heads, False, q.device)
    layout_heads = pattern.counts(n // pattern.block_size, heads).shape[0]
    return lambda: sdpa.attention(q, k, v, pairs, block_size=pattern.block_size, layout_heads=layout_heads,
                                  scale=scale, softmax=True)


def markdown(rows, args, command: str) -> str:
    lines = [
        "# Block-sparse entry: host time per call (tiny tensors)",
        "",
        f"* date: {datetime.date.today().isoformat()}",
        f"* machine: {args.device}, {os.cpu_count()}-core host ({platform.processor() or platform.machine()}), "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)",
        f"* command: `{command}`",
        f"* shapes: batch 1, n {args.length}, {args.heads} heads, head_dim {args.head_dim}, block {args.block_size}, "
        "local window of 3 blocks per row, forward without autograd",
        f"* each figure: median over {args.repeats} rounds of the mean of {args.calls} back-to-back calls",
        "",
        "| case | entry us/call | route us/call | entry - route us |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['case']} | {r['entry_us']:.1f} | {r['route_us']:.1f} | {r['entry_us'] - r['route_us']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--backends", default="sdpa,flex", help="comma list of ringlib backends to time")
    p.add_argument("--length", type=int, default=512)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--head-dim", type=int, default=16)
    p.add_argument("--block-size", type=int, default=128)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--profile", action="store_true", help="print the top functions of each entry call")
    p.add_argument("--out", help="write PATH.json and PATH.md")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    with torch.no_grad():
        for name, entry, route in cases(args):
            e = per_call(entry, args.device, args.calls, args.repeats)
            r = per_call(route, args.device, args.calls, args.repeats)
            rows.append({"case": name, "entry_us": e * 1e6, "route_us": r * 1e6})
            print(f"{name:>22}: entry {e * 1e6:8.1f} us  route {r * 1e6:8.1f} us  "
                  f"entry-route {(e - r) * 1e6:8.1f} us", flush=True)
            if args.profile:
                prof = cProfile.Profile()
                prof.enable()
                for _ in range(args.calls):
                    entry()
                prof.disable()
                pstats.Stats(prof).sort_stats("tottime").print_stats(12)
    if args.out:
        command = "python " + " ".join([Path(sys.argv[0]).as_posix(), *(argv if argv is not None else sys.argv[1:])])
        Path(args.out + ".json").write_text(json.dumps({"device": args.device, "torch": torch.__version__,
                                                        "date": datetime.date.today().isoformat(),
                                                        "command": command, "rows": rows}, indent=1))
        Path(args.out + ".md").write_text(markdown(rows, args, command))


if __name__ == "__main__":
    main()
