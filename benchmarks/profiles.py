"""The legacy "preserve" profiles against the canonical dilated pattern, in effective TFLOP/s.

Goal of the performance issue: each compat profile runs within 1.2x of the canonical pattern's
efficiency (same kernels, same strided machinery). FLOPs count only what each definition
computes (forward; fwd+bwd counts 3.5x):

* Regions: ``4 b d H sum_j m_j^2 / r_j`` (regions clipped at n)
* FirstSegment: ``4 b d H sum_pairs count^2``
* StridedKeys: ``4 b d sum_i heads_i n ceil(min(s_i, n) / r_i)``
* Dilated head_groups (the canonical reference): ``4 b d sum_i heads_i n min(w_i, n) / r_i^2``

    python benchmarks/profiles.py --device cuda --lengths 32768,131072
"""

from __future__ import annotations

import argparse
import datetime

import torch

import ringlib
from ringlib import compat
from attention import measure  # benchmarks/attention.py (this folder is on sys.path when run as a script)


def flops(pattern, b: int, n: int, h: int, d: int) -> float:
    if isinstance(pattern, compat.Regions):
        return 4.0 * b * d * h * sum(seg.length ** 2 / r for seg, r in pattern.regions(n))
    if isinstance(pattern, compat.FirstSegment):
        return 4.0 * b * d * h * sum(c ** 2 for c, _ in pattern.index_sets(n))
    if isinstance(pattern, compat.StridedKeys):
        return 4.0 * b * d * sum(size * n * -(-min(s, n) // r) for (_, size), s, r in
                                 zip(pattern.head_groups(h), pattern.segment_lengths, pattern.dilation_rates))
    if isinstance(pattern, ringlib.Dense):
        return 4.0 * b * d * h * n * n
    groups = pattern.head_groups(h)
    return 4.0 * b * d * sum(groups[i][1] * n * min(w, n) / r ** 2
                             for i, (w, r) in enumerate(zip(pattern.segment_lengths, pattern.dilation_rates)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--lengths", default="32768,131072")
    parser.add_argument("--iters", type=int, default=10)
    args = parser.parse_args()
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    b, h, d = 1, 8, 64
    segs, rates = [2048, 4096, 8192], [1, 2, 4]
    print(f"# compat profiles vs canonical, {torch.cuda.get_device_name() if args.device == 'cuda' else 'cpu'}, "
          f"torch {torch.__version__}, {dtype}, {datetime.date.today().isoformat()}")
    print("| n | pattern | fwd ms | fwd TFLOP/s | fwd+bwd ms | fwd+bwd TFLOP/s | fwd vs canonical |")
    print("|---|---|---|---|---|---|---|")
    for n in (int(x) for x in args.lengths.split(",")):
        q, k, v = (torch.randn(b, n, h, d, device=args.device, dtype=dtype, requires_grad=True) for _ in range(3))
        # Regions and FirstSegment only cover the first sum(segments) tokens: tile them to n
        # so that they do comparable work
        reps = max(1, n // sum(segs))
        cases = [
            ("Dilated head_groups (canonical)", ringlib.Dilated(segs, rates, mixing="head_groups"), None),
            ("Regions, snake", compat.Regions(segs * reps, rates * reps), "snake"),
            ("Regions", compat.Regions(segs * reps, rates * reps), None),
            ("FirstSegment", compat.FirstSegment(segs, rates), None),
            ("StridedKeys", compat.StridedKeys(segs, rates), None),
            ("Dense", ringlib.Dense(), None),
        ]
        base = None
        for name, pattern, ordering in cases:
            if isinstance(pattern, ringlib.Dense) and n > 32768:
                continue
            fn = lambda q, k, v, p=pattern, o=ordering: ringlib.attention(q, k, v, p, ordering=o)  # noqa: E731
            row = measure(name, fn, flops(pattern, b, n, h, d), args, q, k, v)
            base = base or row["fwd_tflops"]
            print(f"| {n} | {name} | {row['fwd_ms']:.3f} | {row['fwd_tflops']:.1f} | {row['fwd+bwd_ms']:.3f} | "
                  f"{row['fwd+bwd_tflops']:.1f} | {base / row['fwd_tflops']:.2f}x |")


if __name__ == "__main__":
    main()
