"""Module level: ``ringlib.MultiheadDilatedAttention`` (fused q/k/v projection) forward and
forward+backward, against a dense module with the same projections and against the old
module classes as users get them after upgrading (the ``dilated_attention_pytorch`` shim).

The old package itself is not installable next to ringlib (its classes are the shim now), so
"old class" rows time the shim's reproduction of each old class's numerics on ringlib's
kernels; the old code's own timings are quoted from the performance issue in the results.

    python benchmarks/modules.py --device cuda --lengths 8192,32768,131072
    python benchmarks/modules.py --device cpu --lengths 2048 --segments 512,1024,2048
"""

from __future__ import annotations

import argparse
import datetime
import platform
import warnings

import torch

import ringlib
from attention import dilated_flops, timed


def old_classes(embed: int, heads: int, segments: list[int], rates: list[int], device, dtype):
    """(label, module, call) for the old module classes, through the shim."""
    warnings.simplefilter("ignore")
    import dilated_attention_pytorch as old
    from dilated_attention_pytorch.ring import RingDistributedDilatedAttention

    yield ("old RingDilatedAttentionCorrect (shim, REGIONS)",
           old.ring.RingDilatedAttentionCorrect(embed, heads, segments, rates, use_hilbert=False,
                                                device=device, dtype=dtype), lambda m, x: m(x))
    yield ("old RingDilatedAttentionV3 (shim, FIRST_SEGMENT)",
           old.ring.RingDilatedAttentionV3(embed, heads, segments, rates, use_hilbert=False,
                                           device=device, dtype=dtype), lambda m, x: m(x))
    yield ("old RingDistributedDilatedAttention (shim, LongNet + sub-LayerNorm)",
           RingDistributedDilatedAttention(embed, heads, segments, rates).to(device, dtype),
           lambda m, x: m(x, x, x)[0])


def measure(label: str, module, call, x: torch.Tensor, flops: float, device: str, iters: int) -> dict:
    params = [p for p in module.parameters() if p.requires_grad]
    grad = torch.randn_like(x)

    def fwd():
        with torch.no_grad():
            call(module, x)

    def fwd_bwd():
        torch.autograd.grad(call(module, x), [x, *params], grad, allow_unused=True)

    row = {"case": label}
    for name, fn, factor in (("fwd", fwd, 1.0), ("fwd+bwd", fwd_bwd, 3.5)):
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        seconds = timed(fn, device, iters)
        row[f"{name}_ms"] = seconds * 1e3
        row[f"{name}_attn_tflops"] = factor * flops / seconds / 1e12
        row[f"{name}_peak_mib"] = (torch.cuda.max_memory_allocated() - base) / 2**20 if device == "cuda" else float("nan")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--lengths", default="8192,32768,131072")
    parser.add_argument("--embed-dim", type=int, default=512)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--segments", default="2048,4096,8192")
    parser.add_argument("--rates", default="1,2,4")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--dense-up-to", type=int, default=131072)
    args = parser.parse_args()
    device = args.device
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    segments = [int(s) for s in args.segments.split(",")]
    rates = [int(r) for r in args.rates.split(",")]
    e, h = args.embed_dim, args.heads
    d = e // h
    rows = []
    for n in (int(s) for s in args.lengths.split(",")):
        x = torch.randn(1, n, e, device=device, dtype=dtype, requires_grad=True)
        cases = []
        if n <= args.dense_up_to:
            cases.append(("ringlib MultiheadDilatedAttention(Dense()) (dense reference)",
                          ringlib.MultiheadDilatedAttention(e, h, ringlib.Dense(), device=device, dtype=dtype),
                          lambda m, x: m(x), 4.0 * d * h * n * n))
        for mixing in ("lse", "head_groups"):
            pattern = ringlib.Dilated(segments, rates, mixing=mixing)
            cases.append((f"ringlib MultiheadDilatedAttention(Dilated, {mixing})",
                          ringlib.MultiheadDilatedAttention(e, h, pattern, device=device, dtype=dtype),
                          lambda m, x: m(x), dilated_flops(pattern, 1, n, h, d)))
        for label, module, call in old_classes(e, h, segments, rates, device, dtype):
            cases.append((label, module, call, float("nan")))
        for label, module, call, flops in cases:
            rows.append({"n": n, **measure(label, module, call, x, flops, device, args.iters)})
    name = torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu"
    print(f"# module benchmark: {name}, torch {torch.__version__}, {dtype}, batch 1, embed {e}, heads {h}, "
          f"segments {segments}, rates {rates}, {datetime.date.today().isoformat()}")
    print("attn_tflops: the attention FLOPs of the pattern (as in attention.py) over the module's time, so"
          " projections and other module work show as a lower figure; not given for the old classes")
    keys = ["n", "case", "fwd_ms", "fwd+bwd_ms", "fwd_attn_tflops", "fwd+bwd_attn_tflops", "fwd_peak_mib",
            "fwd+bwd_peak_mib"]
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
