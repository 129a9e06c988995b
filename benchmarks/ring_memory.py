"""Per-rank peak memory of ring attention vs world size on CPU (gloo), fixed global length.

    python benchmarks/ring_memory.py --seq 8192 --worlds 1 2 4

For each world size P the script spawns P gloo ranks; each builds only its own shard
(``seq / P`` rows), then measures the rise of its peak resident memory (Linux ``VmHWM``,
reset through ``/proc/self/clear_refs``) over one forward + backward. World size 1 is the
single-process path. Ring attention keeps O(seq / P) per rank, so the peak should fall
~1/P. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import datetime
import os
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import ringlib


def _kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def _rank(rank, world, init, args, queue):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(minutes=10))
    local = args.seq // world
    gen = torch.Generator().manual_seed(rank)
    q, k, v, grad = (torch.randn(1, local, args.heads, args.head_dim, generator=gen) for _ in range(4))
    q, k, v = (t.requires_grad_() for t in (q, k, v))
    pattern = ringlib.Dense() if args.pattern == "dense" else ringlib.Dilated([2048, 4096, 8192], [1, 2, 4])
    small = [t[:, :64].detach().requires_grad_() for t in (q, k, v)]  # warm up lazy imports, gloo
    ringlib.attention(*small, ringlib.Dense(), group=dist.group.WORLD).sum().backward()
    dist.barrier()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident set to the current one
    before = _kib("VmRSS")
    start = time.perf_counter()
    out = ringlib.attention(q, k, v, pattern, causal=args.causal, group=dist.group.WORLD)
    out.backward(grad)
    seconds = time.perf_counter() - start
    queue.put((rank, (_kib("VmHWM") - before) / 1024, seconds))
    dist.barrier()
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seq", type=int, default=8192)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--pattern", default="dense", choices=["dense", "dilated"])
    parser.add_argument("--causal", action="store_true")
    parser.add_argument("--worlds", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    # fixed mmap threshold: large buffers go back to the OS when freed, so the resident peak
    # measures live tensors rather than glibc's heap growth
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "65536")
    shard_mib = args.seq * args.heads * args.head_dim * 4 / 2**20
    print(f"{args.pattern} causal={args.causal} seq={args.seq} heads={args.heads} head_dim={args.head_dim} "
          f"float32, forward+backward\n")
    print("| world size | rows per rank | peak rise per rank (MiB, max over ranks) | vs P=1 | one q shard (MiB) | time (s) |")
    print("|---|---|---|---|---|---|")
    base = None
    for world in args.worlds:
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        with tempfile.TemporaryDirectory() as tmp:
            mp.start_processes(_rank, args=(world, os.path.join(tmp, "init"), args, queue), nprocs=world,
                               start_method="spawn")
            results = [queue.get() for _ in range(world)]
        peak = max(r[1] for r in results)
        seconds = max(r[2] for r in results)
        base = peak if base is None else base
        print(f"| {world} | {args.seq // world} | {peak:.1f} | {peak / base:.2f} | {shard_mib / world:.1f} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
