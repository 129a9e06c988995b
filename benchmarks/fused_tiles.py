"""Tile sweep of the one-launch Triton kernels (CUDA): the no-grad forward (``one_launch``
route) and the autograd forward+backward (``fused_plan`` route), each timed under several
``ringlib.KernelOptions`` tile settings on the default LongNet pattern, in one process.
The best row per (route, n, mixing) is what the defaults in ``ringlib/dispatch.py`` should be.

    python benchmarks/fused_tiles.py --lengths 8192,32768 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import ringlib
from attention import dilated_flops, timed

# (block_m, block_n, num_warps, num_stages)
FORWARD_TILES = [(128, 32, 4, 4), (128, 64, 4, 3), (128, 64, 8, 3), (128, 128, 8, 3), (128, 64, 4, 2),
                 (64, 64, 4, 3), (64, 32, 4, 4), (128, 128, 8, 2), (128, 64, 8, 4)]
BACKWARD_TILES = [(64, 64, 4, 2), (64, 64, 4, 3), (64, 64, 8, 2), (128, 64, 8, 2), (64, 128, 8, 2),
                  (32, 64, 4, 2), (128, 128, 8, 1), (64, 32, 4, 3)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", default="8192,32768")
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--budget", type=float, default=1e9, help="stop starting new rows after this many seconds")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    t0 = time.time()
    h, d = args.heads, args.head_dim
    rows = []
    print(f"# one-launch tile sweep: {torch.cuda.get_device_name()}, torch {torch.__version__}, bf16, "
          f"batch 1, {h} heads x {d}, segments [2048, 4096, 8192], rates [1, 2, 4]\n")
    print("| route | n | mixing | block_m | block_n | warps | stages | ms | TFLOP/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in (int(x) for x in args.lengths.split(",")):
        q, k, v = (torch.randn(1, n, h, d, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
        grad = torch.randn_like(q)
        for mixing in ("lse", "head_groups"):
            pattern = ringlib.Dilated([2048, 4096, 8192], [1, 2, 4], mixing=mixing)
            flops = dilated_flops(pattern, 1, n, h, d)
            routes = (("per family (fwd)", [None], 1.0), ("one_launch", FORWARD_TILES, 1.0),
                      ("per family (fwd+bwd)", [None], 3.5), ("fused_plan", BACKWARD_TILES, 3.5))
            for route, tiles, factor in routes:
                for tile in tiles:
                    if time.time() - t0 > args.budget:
                        break
                    if tile is None:  # the per-family sdpa route: the baseline of the same run
                        bm = bn = warps = stages = "-"
                        opts = {"one_launch": False, "fused_plan": False}
                    else:
                        bm, bn, warps, stages = tile
                        opts = {f"{route}_block_m": bm, f"{route}_block_n": bn, f"{route}_num_warps": warps,
                                f"{route}_num_stages": stages, "one_launch_max_flops": float("inf"),
                                "fused_plan": route == "fused_plan", "fused_plan_max_flops": float("inf")}
                    with ringlib.kernel_options(**opts):
                        if factor == 1.0:
                            def call():
                                with torch.no_grad():
                                    ringlib.attention(q, k, v, pattern)
                        else:
                            def call():
                                torch.autograd.grad(ringlib.attention(q, k, v, pattern), (q, k, v), grad)
                        try:
                            seconds = timed(call, "cuda", args.iters)
                            row = {"route": route, "n": n, "mixing": mixing, "block_m": bm, "block_n": bn,
                                   "warps": warps, "stages": stages, "ms": seconds * 1e3,
                                   "tflops": factor * flops / seconds / 1e12}
                        except Exception as exc:  # noqa: BLE001 - a tile the compiler refuses is a row too
                            row = {"route": route, "n": n, "mixing": mixing, "block_m": bm, "block_n": bn,
                                   "warps": warps, "stages": stages, "ms": float("nan"), "tflops": float("nan"),
                                   "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}"}
                    rows.append(row)
                    print(f"| {route} | {n} | {mixing} | {bm} | {bn} | {warps} | {stages} | {row['ms']:.3f} | "
                          f"{row['tflops']:.1f}{' ' + row['error'] if 'error' in row else ''} |", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
