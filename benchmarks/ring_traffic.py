"""Bytes each rank sends through ring attention (forward + backward) against the least the
pattern needs (``ringlib.ring.traffic.minimum_bytes``), on CPU gloo ranks.

    python benchmarks/ring_traffic.py --seq 256 --worlds 2 4

Prints a markdown table: per pattern and world size, the maximum over ranks of the bytes
sent and of the minimum, the largest per-rank ratio sent / minimum (1.00: no rank sends
anything beyond what remote queries need) and how many ranks send exactly their minimum.
"""

from __future__ import annotations

import argparse
import datetime
import os
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import ringlib
from ringlib.ring import comm, traffic

PATTERNS = {  # name: (pattern of the global length, causal, layout)
    "dense": (lambda n: ringlib.Dense(), False, "contiguous"),
    "dense causal": (lambda n: ringlib.Dense(), True, "contiguous"),
    "dense causal zigzag": (lambda n: ringlib.Dense(), True, "zigzag"),
    "dilated lse": (lambda n: ringlib.Dilated([n // 4, n // 2, n], [1, 2, 4]), False, "contiguous"),
    "dilated lse causal": (lambda n: ringlib.Dilated([n // 4, n // 2, n], [1, 2, 4]), True, "contiguous"),
    "dilated lse (one spanning family)": (lambda n: ringlib.Dilated([n // 8, n], [1, 4]), False, "contiguous"),
    "dilated head_groups": (lambda n: ringlib.Dilated([n // 4, n // 2, n], [1, 2, 4], mixing="head_groups"), False,
                            "contiguous"),
    "block-sparse local window": (lambda n: ringlib.BlockSparse("local_window", block_size=16, window_size=n // 8),
                                  False, "contiguous"),
    "block-sparse local window causal": (
        lambda n: ringlib.BlockSparse("local_window", block_size=16, window_size=n // 8), True, "contiguous"),
}


def _rank(rank, world, init, args, queue):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(minutes=5))
    sent = [0]
    exchange = comm.Ring.exchange

    def counting(self, sends, recvs, what, **kw):
        sent[0] += sum(t.numel() * t.element_size() for t, _ in sends)
        return exchange(self, sends, recvs, what, **kw)

    comm.Ring.exchange = counting
    local = args.seq // world
    rows = []
    for name, (make, causal, layout) in PATTERNS.items():
        pattern = make(args.seq)
        q, k, v = (torch.randn(1, local, args.heads, 8, requires_grad=True) for _ in range(3))
        sent[0] = 0
        ringlib.attention(q, k, v, pattern, causal=causal, group=dist.group.WORLD, layout=layout).sum().backward()
        least = traffic.minimum_bytes(pattern, args.seq, args.heads, world, batch=1, head_dim=8, itemsize=4,
                                      causal=causal, layout=layout)[rank]
        rows.append((name, sent[0], least))
    queue.put((rank, rows))
    dist.barrier()
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--worlds", type=int, nargs="+", default=[2, 4])
    args = parser.parse_args()
    print(f"seq={args.seq} heads={args.heads} head_dim=8 float32, forward + backward; bytes per rank, max over ranks\n")
    print("| pattern | P | sent (KiB) | least needed (KiB) | sent / least (worst rank) | ranks at their least |")
    print("|---|---|---|---|---|---|")
    for world in args.worlds:
        queue = mp.get_context("spawn").Queue()
        with tempfile.TemporaryDirectory() as tmp:
            mp.start_processes(_rank, args=(world, os.path.join(tmp, "init"), args, queue), nprocs=world,
                               start_method="spawn")
            results = [queue.get()[1] for _ in range(world)]
        for i, (name, _, _) in enumerate(results[0]):
            sent = max(r[i][1] for r in results)
            least = max(r[i][2] for r in results)
            ratios = [r[i][1] / r[i][2] if r[i][2] else (1.0 if r[i][1] == 0 else float("inf")) for r in results]
            exact = sum(r[i][1] == r[i][2] for r in results)
            print(f"| {name} | {world} | {sent / 1024:.1f} | {least / 1024:.1f} | {max(ratios):.2f} | "
                  f"{exact} / {world} |", flush=True)


if __name__ == "__main__":
    main()
