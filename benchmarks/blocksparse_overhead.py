"""Host (CPU-side) time of one block-sparse ``ringlib.attention`` call, outside its kernels.

On tiny tensors the kernels cost almost nothing, so the time per call is what Python,
validation, dispatch, cache look-ups and launches cost: the part that keeps block-sparse
attention at 98% sparsity far below dense flash on a GPU (the kernels there take
tens of microseconds). A figure is the mean time per call of ``--calls`` back-to-back calls
(one device synchronisation per round): wall time on CUDA, the thread's CPU time on the CPU.

    python benchmarks/blocksparse_overhead.py --out benchmarks/results/blocksparse_overhead_cpu
    python benchmarks/blocksparse_overhead.py --device cuda --compile-modes default,reduce-overhead \
        --out blocksparse_overhead_cuda

Per backend: ``ringlib.attention`` (forward, no autograd) and the kernel work of the same
call alone (``sdpa``: every active pair's attention in one batched fused call;
``flex``: ringlib's compiled FlexAttention call on its BlockMask, built beforehand); their
difference is the host overhead of the entry. ``--compile-modes``: rows of the same call
compiled whole, ``torch.compile(fullgraph=True, mode=...)`` (``reduce-overhead`` replays it as
a CUDA graph on a GPU). Each figure is the least over ``--repeats`` interleaved
rounds (other load on the host only adds). ``--profile`` prints the top functions of the
entry call (cProfile).
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


def per_call(fns, device: str, calls: int, repeats: int) -> list[float]:
    """Per function: the least, over ``repeats`` interleaved rounds, of the mean seconds per
    call of ``calls`` back-to-back calls (the least: other load on the host only adds). On the
    CPU the clock is this thread's CPU time (with one torch thread the kernels run on it too),
    so time spent descheduled by other processes does not count."""
    clock = time.perf_counter if device == "cuda" else time.thread_time
    for fn in fns:
        for _ in range(3):
            fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = clock()
            for _ in range(calls):
                fn()
            if device == "cuda":
                torch.cuda.synchronize()
            best[i] = min(best[i], (clock() - t0) / calls)
    return best


def cases(args):
    """``(name, entry, kernel)`` callables on tiny tensors: ``kernel`` is the kernel work of the
    same call alone."""
    dev = torch.device(args.device)
    dtype = torch.float32 if args.device == "cpu" else torch.bfloat16
    n, h, d, bs = args.length, args.heads, args.head_dim, args.block_size
    nb = n // bs
    q, k, v = (torch.randn(1, n, h, d, device=dev, dtype=dtype) for _ in range(3))
    pattern = ringlib.BlockSparse("local_window", block_size=bs, window_size=3 * bs)  # |i - j| <= 1
    scale = d ** -0.5
    out = []
    for backend in args.backends.split(","):
        def entry(backend=backend):
            return ringlib.attention(q, k, v, pattern, backend=backend)

        if backend == "flex":  # the very kernel call ringlib makes, its BlockMask built beforehand
            from ringlib.blocksparse import flex

            tile = ringlib.dispatch.options().flex_tile
            try:
                from ringlib.blocksparse import prepared

                mask = prepared.prepare(pattern, n, h, False, dev).block_mask(tile)
            except ImportError:  # before the prepared cache: the BlockMask's own cache
                mask = flex.block_mask(pattern, n, h, False, dev, tile)
            compiled = flex._kernel(True)
            qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))

            def kernel():
                return compiled(qt, kt, vt, block_mask=mask, scale=scale)
        else:  # every active pair's bs x bs attention in one batched call (one chunk)
            i = torch.arange(nb, device=dev)
            rows, cols = torch.nonzero((i[:, None] - i[None, :]).abs() <= 1, as_tuple=True)
            blocks = [x.reshape(1, nb, bs, h, d).permute(0, 3, 1, 2, 4).reshape(h, nb, bs, d) for x in (q, k, v)]
            qp = blocks[0].index_select(1, rows).reshape(h * len(rows), 1, bs, d)
            kp = blocks[1].index_select(1, cols).reshape(h * len(rows), 1, bs, d)
            vp = blocks[2].index_select(1, cols).reshape(h * len(rows), 1, bs, d)
            fn = (torch.ops.aten._scaled_dot_product_flash_attention_for_cpu if args.device == "cpu"
                  else torch.ops.aten._scaled_dot_product_flash_attention)

            def kernel():
                return fn(qp, kp, vp, 0.0, False, scale=scale)
        out.append((f"{backend} local_window", entry, kernel))
        for mode in filter(None, args.compile_modes.split(",")):  # the call captured whole
            def attend(q, k, v, backend=backend):
                return ringlib.attention(q, k, v, pattern, backend=backend)

            compiled_entry = torch.compile(attend, fullgraph=True, dynamic=False, mode=mode)

            def captured(compiled_entry=compiled_entry):
                torch.compiler.cudagraph_mark_step_begin()
                return compiled_entry(q, k, v)
            out.append((f"{backend} local_window, compiled {mode}", captured, kernel))
    return out


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
        f"* each figure: least over {args.repeats} interleaved rounds of the mean of {args.calls} back-to-back calls",
        "",
        "| case | ringlib.attention us/call | its kernels alone us/call | host overhead us/call |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['case']} | {r['entry_us']:.1f} | {r['kernel_us']:.1f} | "
                     f"{r['entry_us'] - r['kernel_us']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--backends", default="sdpa,flex", help="comma list of ringlib backends to time")
    p.add_argument("--compile-modes", default="default",
                   help="comma list of torch.compile modes: rows of the call compiled whole (fullgraph=True)")
    p.add_argument("--length", type=int, default=256)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--head-dim", type=int, default=16)
    p.add_argument("--block-size", type=int, default=64)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--profile", action="store_true", help="print the top functions of each entry call")
    p.add_argument("--out", help="write PATH.json and PATH.md")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    with torch.no_grad():
        for name, entry, kernel in cases(args):
            e, r = per_call([entry, kernel], args.device, args.calls, args.repeats)
            rows.append({"case": name, "entry_us": e * 1e6, "kernel_us": r * 1e6})
            print(f"{name:>22}: ringlib.attention {e * 1e6:8.1f} us  kernels alone {r * 1e6:8.1f} us  "
                  f"host overhead {(e - r) * 1e6:8.1f} us", flush=True)
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
                                                        "date": datetime.date.today().isoformat(), "threads": args.threads,
                                                        "command": command, "rows": rows}, indent=1))
        Path(args.out + ".md").write_text(markdown(rows, args, command))


if __name__ == "__main__":
    main()
