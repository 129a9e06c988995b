"""Exact ring attention across processes: ``torchrun --nproc-per-node N examples/ring_torchrun.py``.

Every rank builds the same full q, k, v (same seed), keeps its shard of the sequence, runs
``ringlib.attention(..., group=...)`` and compares its output shard and q/k/v gradients with
the single-process result on the full sequence. Uses NCCL on GPUs (one per rank) and gloo on
CPU. On multi-GPU machines keep NVLink multicast off: ``NCCL_NVLS_ENABLE=0``.

Options: ``--seq-per-rank``, ``--heads``, ``--head-dim``, ``--dtype``, ``--causal``,
``--zigzag`` (load-balanced causal sharding), ``--pattern dense|dilated|blocksparse``.
"""

from __future__ import annotations

import argparse
import datetime
import os

import torch
import torch.distributed as dist

import ringlib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-per-rank", type=int, default=1024)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16", "float64"])
    parser.add_argument("--causal", action="store_true")
    parser.add_argument("--zigzag", action="store_true", help="zigzag sharding (balances causal work)")
    parser.add_argument("--pattern", default="dilated", choices=["dense", "dilated", "blocksparse"])
    args = parser.parse_args()

    os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(minutes=5))
    group, rank, world = dist.group.WORLD, dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda") if cuda else torch.device("cpu")
    dtype = getattr(torch, args.dtype)
    layout = "zigzag" if args.zigzag else "contiguous"

    n = world * args.seq_per_rank
    w = max(args.seq_per_rank // 2, 1)
    pattern = {
        "dense": ringlib.Dense(),
        "dilated": ringlib.Dilated([w, 2 * w, 4 * w], [1, 2, 4]),  # shorter than, equal to, longer than a shard
        "blocksparse": ringlib.BlockSparse("local_window", block_size=64, window_size=192),
    }[args.pattern]

    gen = torch.Generator(device=device).manual_seed(0)
    q, k, v, grad = (torch.randn(1, n, args.heads, args.head_dim, device=device, generator=gen, dtype=dtype)
                     for _ in range(4))

    # this rank's shard: ring attention over the whole sequence
    shards = [ringlib.shard_sequence(t, group, layout=layout).detach().requires_grad_() for t in (q, k, v)]
    if layout == "contiguous":
        out = ringlib.attention(*shards, pattern, causal=args.causal, group=group)
    else:
        out = ringlib.ring.attention(*shards, pattern, causal=args.causal, group=group, layout=layout)
    out.backward(ringlib.shard_sequence(grad, group, layout=layout))

    # the single-process result on the full sequence, for comparison
    full = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    ref = ringlib.attention(*full, pattern, causal=args.causal)
    ref.backward(grad)

    errors = {"out": (out - ringlib.shard_sequence(ref, group, layout=layout)).abs().max()}
    for name, s, f in zip(("dq", "dk", "dv"), shards, full):
        errors[name] = (s.grad - ringlib.shard_sequence(f.grad, group, layout=layout)).abs().max()
    table = torch.stack([e.float() for e in errors.values()])
    dist.all_reduce(table, op=dist.ReduceOp.MAX)
    if rank == 0:
        shown = "  ".join(f"{name} {err:.2e}" for name, err in zip(errors, table.tolist()))
        print(f"{args.pattern} causal={args.causal} layout={layout} world={world} n={n} {args.dtype} on "
              f"{'cuda/nccl' if cuda else 'cpu/gloo'}: max |ring - single process|: {shown}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
