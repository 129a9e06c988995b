"""Kernel-level profile of one dilated forward and forward+backward (CUDA), to see where
time goes beyond the attention kernels themselves.

    python benchmarks/profile_dilated.py --n 131072 --mixing lse
"""

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

import ringlib


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=131072)
    parser.add_argument("--mixing", default="lse")
    parser.add_argument("--rows", type=int, default=14)
    args = parser.parse_args()
    q, k, v = (torch.randn(1, args.n, 8, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    pattern = ringlib.Dilated([2048, 4096, 8192], [1, 2, 4], mixing=args.mixing)
    grad = torch.randn_like(q)
    for _ in range(3):
        ringlib.attention(q, k, v, pattern).backward(grad)
    torch.cuda.synchronize()
    for label, fn in (("forward", lambda: ringlib.attention(q, k, v, pattern)),
                      ("forward+backward", lambda: ringlib.attention(q, k, v, pattern).backward(grad))):
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(5):
                fn()
            torch.cuda.synchronize()
        print(f"## {label}, n={args.n}, mixing={args.mixing} (5 iterations)")
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=args.rows, max_name_column_width=70))


if __name__ == "__main__":
    main()
