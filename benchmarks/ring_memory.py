"""Per-rank peak memory of ring attention vs world size on CPU (gloo), fixed global length.

    python benchmarks/ring_memory.py --seq 4096 --worlds 1 2 4 8 --patterns dense dilated head_groups blocksparse

For each pattern and world size P the script spawns P gloo ranks; each builds only its own
shard (``seq / P`` rows), then measures the rise of its peak resident memory (Linux
``VmHWM``, reset through ``/proc/self/clear_refs``) over the forward, and over the backward,
both from the same starting point. World size 1 is the single-process path. The goal
(issue: ring attention that scales): every rank's peak <= 1.25 x (peak at P = 1) / P + 2
shard-sized buffers (a shard: one q shard in float32). Prints a markdown table.
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
    pattern = PATTERNS[args.pattern](args.seq)
    small = [t[:, :64].detach().requires_grad_() for t in (q, k, v)]  # warm up lazy imports, gloo
    ringlib.attention(*small, ringlib.Dense(), group=dist.group.WORLD).sum().backward()
    dist.barrier()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident set to the current one
    before = _kib("VmRSS")
    start = time.perf_counter()
    out = ringlib.attention(q, k, v, pattern, causal=args.causal, group=dist.group.WORLD)
    forward = (_kib("VmHWM") - before) / 1024
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    out.backward(grad)
    backward = (_kib("VmHWM") - before) / 1024
    seconds = time.perf_counter() - start
    queue.put((rank, forward, backward, seconds))
    dist.barrier()
    dist.destroy_process_group()


PATTERNS = {  # by the global length: segments of a quarter, half and all of it
    "dense": lambda n: ringlib.Dense(),
    "dilated": lambda n: ringlib.Dilated([n // 4, n // 2, n], [1, 2, 4]),
    "head_groups": lambda n: ringlib.Dilated([n // 4, n // 2, n], [1, 2, 4], mixing="head_groups"),
    "blocksparse": lambda n: ringlib.BlockSparse("local_window", block_size=64, window_size=n // 8),
}


def _run(args, world):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    with tempfile.TemporaryDirectory() as tmp:
        mp.start_processes(_rank, args=(world, os.path.join(tmp, "init"), args, queue), nprocs=world,
                           start_method="spawn")
        return [queue.get() for _ in range(world)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seq", type=int, default=8192)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--patterns", nargs="+", default=list(PATTERNS), choices=list(PATTERNS))
    parser.add_argument("--causal", action="store_true")
    parser.add_argument("--worlds", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    # fixed mmap threshold: large buffers go back to the OS when freed, so the resident peak
    # measures live tensors rather than glibc's heap growth
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "65536")
    shard_mib = args.seq * args.heads * args.head_dim * 4 / 2**20
    print(f"causal={args.causal} seq={args.seq} heads={args.heads} head_dim={args.head_dim} float32; "
          f"peak rise per rank, MiB, max over ranks; bound = 1.25 x (P=1 peak / P + 2 shards)\n")
    print("| pattern | P | rows per rank | shard (MiB) | forward peak | backward peak | in shards (fwd / bwd) "
          "| bound | within | time (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.patterns:
        args.pattern = name
        base = None
        for world in args.worlds:
            results = _run(args, world)
            fwd, bwd = max(r[1] for r in results), max(r[2] for r in results)
            seconds = max(r[3] for r in results)
            shard = shard_mib / world
            if world == 1:
                base = (fwd, bwd)
            bounds = [1.25 * (b / world + 2 * shard) for b in base] if base else [float("nan")] * 2
            ok = "yes" if fwd <= bounds[0] and bwd <= bounds[1] else "NO"
            print(f"| {name} | {world} | {args.seq // world} | {shard:.1f} | {fwd:.1f} | {bwd:.1f} | "
                  f"{fwd / shard:.1f} / {bwd / shard:.1f} | {bounds[0]:.1f} / {bounds[1]:.1f} | {ok} | {seconds:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
