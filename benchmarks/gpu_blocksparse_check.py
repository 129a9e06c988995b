"""GPU correctness check of block-sparse attention: flex and sdpa vs the float64 reference.

Run on one CUDA GPU (torch >= 2.5 with triton):

    python benchmarks/gpu_blocksparse_check.py                      # the check (a few minutes)
    python benchmarks/gpu_blocksparse_check.py --bench --out benchmarks/results/blocksparse_h100

For every case (random per-head layouts with empty rows, the named legacy layouts, a block
size that is not a multiple of FlexAttention's tile, a partial tail), dtype (float32,
bfloat16), backend and causal flag it compares output and dq, dk, dv with the flash-attn
rule of ``ringlib.testing``: ``err(tested) <= 4 * err(plain) + floor``, where ``plain`` is
the reference backend run in the same low precision and errors are taken against the
float64 reference on the same GPU. It prints a PASS/FAIL table and exits 1 on any failure.
``--bench`` then runs ``benchmarks/blocksparse.py speed`` (90% / 98% sparsity, 8K-128K,
vs dense flash SDPA) and writes ``OUT.md`` / ``OUT.json``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import torch

import ringlib
from ringlib import dispatch
from ringlib.blocksparse import prepared
from ringlib.testing import compare


def random_layout(heads: int, nb: int, density: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    layout = torch.rand(heads, nb, nb, generator=g) < density
    layout[0, 1] = False  # an empty row
    if heads > 1:
        layout[1] = False  # an empty head
        layout[1, 2, 0] = True
    return layout


def cases(quick: bool):
    """(name, pattern kwargs builder, n, heads)."""
    out = [
        ("random per-head bs128", lambda norm: ringlib.BlockSparse(random_layout(4, 8, 0.4, 0), 128, norm), 1024, 4),
        ("random shared bs64", lambda norm: ringlib.BlockSparse(random_layout(1, 16, 0.3, 1)[0], 64, norm), 1024, 4),
        ("local_window bs64 w256", lambda norm: ringlib.BlockSparse("local_window", 64, norm, window_size=256), 1024, 4),
        ("dilated bs128", lambda norm: ringlib.BlockSparse("dilated", 128, norm), 1024, 4),
    ]
    if not quick:
        out += [
            ("global_local bs64", lambda norm: ringlib.BlockSparse("global_local", 64, norm, global_blocks=2,
                                                                   window_size=256), 1024, 4),
            ("hierarchical bs32 (not a tile multiple)",
             lambda norm: ringlib.BlockSparse("hierarchical", 32, norm, seed=3, global_sparsity=0.3), 512, 4),
            ("bs256 multiples of the tile", lambda norm: ringlib.BlockSparse(random_layout(1, 4, 0.5, 2)[0], 256, norm),
             1024, 4),
            ("partial tail n=1000 bs128", lambda norm: ringlib.BlockSparse("local_window", 128, norm, window_size=384,
                                                                           partial_tail="zero"), 1000, 4),
        ]
    return out


def _inputs(n, heads, seed=0):
    g = torch.Generator(device="cuda").manual_seed(seed)
    base = [torch.randn(2, n, heads, 64, device="cuda", dtype=torch.float64, generator=g) for _ in range(3)]
    grad = torch.randn(2, n, heads, 64, device="cuda", dtype=torch.float64, generator=g)
    return base, grad


def run(pattern, base, grad, dtype, backend, causal):
    """Output and (dq, dk, dv) of one backend in one dtype."""
    leaves = [t.to(dtype).requires_grad_() for t in base]
    out = ringlib.attention(*leaves, pattern, causal=causal, backend=backend)
    grads = torch.autograd.grad(out, leaves, grad.to(dtype))
    return out.detach(), grads


def judge(tested, plain, ref):
    """Per output/gradient: (name, Comparison, has NaN)."""
    (out, g_out), (p_out, g_plain), (r_out, g_ref) = tested, plain, ref
    results = [("out", compare(out, p_out, r_out), bool(out.isnan().any()))]
    for name, a, b, c in zip(("dq", "dk", "dv"), g_out, g_plain, g_ref):
        results.append((name, compare(a, b, c), bool(a.isnan().any())))
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer cases")
    parser.add_argument("--bench", action="store_true", help="then run the speed benchmark")
    parser.add_argument("--out", default="benchmarks/results/blocksparse_gpu", help="benchmark output prefix")
    parser.add_argument("--bench-lengths", default="8192,16384,32768,65536,131072")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("needs CUDA", file=sys.stderr)
        return 2
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 256)
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, flex available: {dispatch.flex_available()}")
    rows, failures = [], 0
    started = time.time()
    for name, build, n, heads in cases(args.quick):
        base, grad = _inputs(n, heads)
        for norm in ("softmax", "per_block_sum"):
            pattern = build(norm)
            for causal in (False, True):
                ref = run(pattern, base, grad, torch.float64, "reference", causal)
                for dtype in (torch.float32, torch.bfloat16):
                    plain = run(pattern, base, grad, dtype, "reference", causal)
                    # per_block_sum on backend="flex" runs the pairs path (documented): checked too
                    for backend in ("flex", "sdpa", "auto"):
                        label = (name, norm, str(dtype).replace("torch.", ""), backend, causal)
                        try:
                            res = judge(run(pattern, base, grad, dtype, backend, causal), plain, ref)
                            ok = all(c.ok and not nan for _, c, nan in res)
                            detail = "  ".join(f"{what} {c.tested_error:.1e}/{c.bound:.1e}{' NaN' if nan else ''}"
                                               for what, c, nan in res)
                        except Exception as err:  # noqa: BLE001 - reported as a failure
                            ok, detail = False, f"{type(err).__name__}: {err}"[:200]
                        failures += not ok
                        rows.append((*label, "PASS" if ok else "FAIL", detail))
                        print(f"{'PASS' if ok else 'FAIL'}  {name} | {norm} | {label[2]} | {backend} | "
                              f"causal={causal} | {detail}  [{time.time() - started:.0f}s]", flush=True)

    # the BlockMask is built once per (pattern, n, heads, causal, device) (ringlib.blocksparse.prepared)
    p = ringlib.BlockSparse("dilated", 128)
    x = torch.randn(1, 1024, 4, 64, device="cuda", dtype=torch.bfloat16)
    masks = []
    for _ in range(3):
        ringlib.attention(x, x, x, p, backend="flex")
        masks.append(prepared.prepare(p, 1024, 4, False, x.device).block_mask(dispatch.options().flex_tile))
    cached = masks[0] is masks[1] is masks[2]
    failures += not cached
    rows.append(("BlockMask cache", "-", "bfloat16", "flex", False, "PASS" if cached else "FAIL",
                 "one BlockMask over 3 calls" if cached else "rebuilt between calls"))

    # the adaptive module trains on the GPU (finite gradients for every parameter)
    m = ringlib.AdaptiveBlockSparseAttention(4, 64, block_size=128, top_k=2).cuda()
    q, k, v = (torch.randn(2, 2048, 4, 64, device="cuda", requires_grad=True) for _ in range(3))
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=False):
        m(q, k, v, is_causal=True).square().mean().backward()
    adaptive_ok = all(p_.grad is not None and torch.isfinite(p_.grad).all() and p_.grad.abs().max() > 0
                      for p_ in m.parameters())
    failures += not adaptive_ok
    rows.append(("adaptive module fwd+bwd", "softmax", "float32", "sdpa", True,
                 "PASS" if adaptive_ok else "FAIL", "all scorer parameters get finite non-zero gradients"))

    print("\n| case | normalization | dtype | backend | causal | result | errors (tested/bound) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(x) for x in r) + " |")
    print(f"\n{len(rows) - failures} passed, {failures} failed ({time.time() - started:.0f}s)")

    if args.bench:
        cmd = [sys.executable, str(Path(__file__).with_name("blocksparse.py")), "speed", "--lengths",
               args.bench_lengths, "--out", args.out]
        print("running:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=False)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
