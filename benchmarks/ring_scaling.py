"""Ring attention scaling (issue 9): fixed sequence length per GPU, N = 1, 2, 4, 8 ranks.

    NCCL_NVLS_ENABLE=0 torchrun --nproc-per-node N benchmarks/ring_scaling.py \
        --seq-per-rank 32768 --heads 8 --head-dim 128 --dtype bfloat16 --out benchmarks/results/ring_scaling.jsonl
    python benchmarks/ring_scaling.py --summarize benchmarks/results/ring_scaling.jsonl

Per configuration (dense causal with contiguous and zigzag sharding, dense non-causal, and
dilated attention with segments inside a shard and spanning shards) every rank measures
forward and forward+backward time (median of ``--iters`` after warm-up), peak memory, and
the time of the same ring traffic alone (``comm``: the key/value buffers the schedule sends,
passed around its rings without compute). Rank 0 appends one JSON line per configuration.

``--summarize`` prints a markdown table with, per N: weak-scaling efficiency
``T(N=1) / T(N)`` (the issue's definition: ideal for patterns whose work per rank is
constant, such as dilated segments inside a shard) and work-normalised efficiency
``T(N=1) * work_per_rank(N) / work_per_rank(1) / T(N)`` (the ring-flash-attention style
number for dense attention, whose work per rank grows with N), and the share of the
forward communication hidden behind compute ``1 - max(0, T(N) - compute) / comm`` with
``compute = T(N=1) * work ratio``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import time

import torch
import torch.distributed as dist

import ringlib
from ringlib.ring import comm, loop, strided
from ringlib.backends.strided import rows_view


def configs(seq_per_rank: int, world: int):
    n = seq_per_rank * world
    local = ringlib.Dilated([2048, 4096, 8192], [1, 2, 4])
    spanning = ringlib.Dilated([seq_per_rank // 2, seq_per_rank, 2 * seq_per_rank], [1, 2, 4])
    return [
        ("dense", ringlib.Dense(), True, "zigzag"),
        ("dense", ringlib.Dense(), True, "contiguous"),
        ("dense", ringlib.Dense(), False, "contiguous"),
        ("dilated local [2048,4096,8192]/[1,2,4]", local, False, "contiguous"),
        ("dilated spanning [L/2,L,2L]/[1,2,4]", spanning, False, "contiguous"),
    ] if n else []


def work(pattern, n: int, heads: int, causal: bool) -> float:
    """Attended (query, key, head) triples of the whole sequence, from the plan."""
    total = 0.0
    for p in pattern.plan(n, heads).parts:
        pairs = p.segments * p.lanes * p.heads * p.q_count * p.k_count
        total += pairs * (0.5 if causal else 1.0)
    return total


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, warmup: int, iters: int) -> float:
    for _ in range(warmup):
        fn()
    sync(device)
    samples = []
    for _ in range(iters):
        if dist.is_initialized():
            dist.barrier()
        start = time.perf_counter()
        fn()
        sync(device)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def comm_only(pattern, q, causal, layout, group) -> float | None:
    """Seconds to pass this schedule's forward key/value buffers around its rings alone."""
    world, rank = dist.get_world_size(group), dist.get_rank(group)
    n, heads = q.shape[1] * world, q.shape[2]
    schedule = strided.build(pattern, n, heads, None, world, rank, layout, causal)
    if schedule is None:
        buffers = [(tuple(range(world)), 2 * q.numel())]
    else:
        buffers = [(r.ranks, sum(2 * rows_view(q, schedule.families[f].view, keys=True).numel()
                                 for f in r.families)) for r in schedule.rings]

    def run():
        for ranks, size in buffers:
            ring = comm.Ring(ranks, group)
            pending = ring.post(torch.empty(size, dtype=q.dtype, device=q.device), "keys/values")
            loop.run_forward(ring, pending, lambda step, buf: None)

    return timed(run, q.device, 1, 3) if world > 1 else 0.0


def measure(args) -> None:
    os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(minutes=10))
    group, world, rank = dist.group.WORLD, dist.get_world_size(), dist.get_rank()
    device = torch.device("cuda" if cuda else "cpu")
    dtype = getattr(torch, args.dtype)
    for name, pattern, causal, layout in configs(args.seq_per_rank, world):
        if world == 1 and layout == "zigzag":
            layout_used = "contiguous"
        else:
            layout_used = layout
        q, k, v, grad = (torch.randn(1, args.seq_per_rank, args.heads, args.head_dim, device=device, dtype=dtype)
                         for _ in range(4))
        q, k, v = (t.requires_grad_() for t in (q, k, v))

        def forward():
            with torch.no_grad():
                ringlib.ring.attention(q, k, v, pattern, group=group, causal=causal, layout=layout_used)

        def forward_backward():
            out = ringlib.ring.attention(q, k, v, pattern, group=group, causal=causal, layout=layout_used)
            torch.autograd.grad(out, (q, k, v), grad)

        if cuda:
            torch.cuda.reset_peak_memory_stats()
        t_fwd = timed(forward, device, args.warmup, args.iters)
        t_fb = timed(forward_backward, device, args.warmup, args.iters)
        peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
        t_comm = comm_only(pattern, q.detach(), causal, layout_used, group) if world > 1 else 0.0
        row = dict(pattern=name, causal=causal, layout=layout, world=world, seq_per_rank=args.seq_per_rank,
                   heads=args.heads, head_dim=args.head_dim, dtype=args.dtype, fwd_s=t_fwd, fwd_bwd_s=t_fb,
                   comm_fwd_s=t_comm, peak_gib=peak,
                   work_per_rank=work(pattern, args.seq_per_rank * world, args.heads, causal) / world,
                   device=torch.cuda.get_device_name() if cuda else "cpu", torch=torch.__version__,
                   nccl=".".join(map(str, torch.cuda.nccl.version())) if cuda else None,
                   date=datetime.date.today().isoformat())
        if rank == 0:
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")
    dist.destroy_process_group()


def summarize(path: str) -> None:
    rows = [json.loads(line) for line in open(path) if line.strip()]
    base = {(r["pattern"], r["causal"], r["layout"]): r for r in rows if r["world"] == 1}
    print("| pattern | causal | layout | N | fwd ms | fwd+bwd ms | peak GiB | weak eff. fwd / fwd+bwd | "
          "work-normalised eff. fwd / fwd+bwd | comm hidden (fwd) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (r["pattern"], r["causal"], r["layout"], r["world"])):
        b = base.get((r["pattern"], r["causal"], r["layout"]))
        cells = ["-", "-", "-"]
        if b:
            ratio = r["work_per_rank"] / b["work_per_rank"]
            cells[0] = f"{b['fwd_s'] / r['fwd_s']:.0%} / {b['fwd_bwd_s'] / r['fwd_bwd_s']:.0%}"
            cells[1] = f"{b['fwd_s'] * ratio / r['fwd_s']:.0%} / {b['fwd_bwd_s'] * ratio / r['fwd_bwd_s']:.0%}"
            if r["comm_fwd_s"] > 0:
                exposed = max(0.0, r["fwd_s"] - b["fwd_s"] * ratio)
                cells[2] = f"{max(0.0, 1 - exposed / r['comm_fwd_s']):.0%}"
        print(f"| {r['pattern']} | {r['causal']} | {r['layout']} | {r['world']} | {r['fwd_s'] * 1e3:.1f} | "
              f"{r['fwd_bwd_s'] * 1e3:.1f} | {r['peak_gib']:.2f} | {cells[0]} | {cells[1]} | {cells[2]} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-per-rank", type=int, default=32768)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=128)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--out", default=None, help="append JSON lines here (rank 0)")
    parser.add_argument("--summarize", default=None, metavar="JSONL")
    args = parser.parse_args()
    if args.summarize:
        summarize(args.summarize)
    else:
        measure(args)


if __name__ == "__main__":
    main()
