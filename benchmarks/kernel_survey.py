"""Which fused attention kernel is fastest for the shapes dilated attention produces?

Dilated attention is many short attention problems (segment length / rate rows each) on
strided views. This survey times PyTorch's fused kernels (flash, cuDNN, memory-efficient) on
a long dense problem and on the batched short problems of the default dilated pattern, on
contiguous and on strided operands, and checks that each kernel's log-sum-exp agrees.

    python benchmarks/kernel_survey.py            # one CUDA device, about a minute
"""

from __future__ import annotations

import contextlib
import datetime

import torch

from attention import timed

aten = torch.ops.aten


def flash(q, k, v, causal=False):
    res = aten._scaled_dot_product_flash_attention(q, k, v, 0.0, causal, False)
    return res[0], res[1]


def flash_bwd(do, q, k, v, o, lse, causal=False):
    seed = torch.zeros(2, dtype=torch.uint64, device=q.device)
    off = torch.zeros((), dtype=torch.uint64, device=q.device)
    return aten._scaled_dot_product_flash_attention_backward(
        do, q, k, v, o, lse, None, None, q.shape[2], k.shape[2], 0.0, causal, seed, off)


def cudnn(q, k, v, causal=False):
    res = aten._scaled_dot_product_cudnn_attention(q, k, v, None, True, 0.0, causal, False)
    cudnn.state = res
    return res[0], res[1]


def cudnn_bwd(do, q, k, v, o, lse, causal=False):
    res = cudnn.state
    return aten._scaled_dot_product_cudnn_attention_backward(
        do, q, k, v, o, lse.view(res[1].shape), res[6], res[7], None, res[2], res[3],
        q.shape[2], k.shape[2], 0.0, causal)


def efficient(q, k, v, causal=False):
    res = aten._scaled_dot_product_efficient_attention(q, k, v, None, True, 0.0, causal)
    return res[0], res[1]


def efficient_bwd(do, q, k, v, o, lse, causal=False):
    seed = torch.zeros((), dtype=torch.long)
    return aten._scaled_dot_product_efficient_attention_backward(
        do, q, k, v, None, o, lse, seed, seed, 0.0, [True, True, True, False], causal)[:3]


KERNELS = {"flash": (flash, flash_bwd), "cudnn": (cudnn, cudnn_bwd), "efficient": (efficient, efficient_bwd)}


def operands(kind: str, n: int, heads: int, d: int, seg: int, rate: int, dtype):
    """q, k, v as 4-D (batch, heads, rows, d) problems of the given shape kind."""
    if kind == "dense":
        return [torch.randn(1, n, heads, d, device="cuda", dtype=dtype).transpose(1, 2) for _ in range(3)]
    if kind == "contiguous":
        return [torch.randn(n // seg * rate, heads, seg // rate, d, device="cuda", dtype=dtype) for _ in range(3)]
    # strided: lane 0 of rate `rate` over segments `seg` of (1, n, 8, d), `heads` heads
    out = []
    for _ in range(3):
        base = torch.randn(1, n, 8, d, device="cuda", dtype=dtype)
        out.append(base.as_strided((n // seg, heads, seg // rate, d),
                                   (seg * 8 * d, d, rate * 8 * d, 1)))
    return out


def main() -> None:
    dtype = torch.bfloat16
    d = 64
    print(f"# fused kernel survey: {torch.cuda.get_device_name()}, torch {torch.__version__}, {dtype}, "
          f"head_dim {d}, {datetime.date.today().isoformat()}")
    print("| problem | kernel | fwd_ms | fwd_tflops | bwd_ms | fwd+bwd_tflops | max abs diff vs flash (o, lse, dq) |")
    print("|---|---|---|---|---|---|---|")
    problems = [("dense", 32768, 8, 0, 1),
                ("contiguous", 131072, 3, 2048, 1), ("contiguous", 131072, 8, 2048, 1),
                ("strided", 131072, 3, 2048, 1), ("strided", 131072, 3, 4096, 2),
                ("strided", 131072, 2, 8192, 4), ("contiguous", 131072, 8, 1024, 1),
                ("contiguous", 131072, 8, 512, 1)]
    for kind, n, heads, seg, rate in problems:
        q, k, v = operands(kind, n, heads, d, seg, rate, dtype)
        rows = q.shape[2]
        flops = 4.0 * q.shape[0] * heads * rows * rows * d
        ref = None
        for name, (fwd, bwd) in KERNELS.items():
            try:
                o, lse = fwd(q, k, v)
                if ref is None:
                    do = torch.randn_like(o)
                t_f = timed(lambda: fwd(q, k, v), "cuda", 10)
                lse_c = lse.float().contiguous()
                t_b = timed(lambda: bwd(do, q, k, v, o, lse_c), "cuda", 10)
                dq = bwd(do, q, k, v, o, lse_c)[0].float()
                if ref is None:
                    ref = (o.float(), lse.float().reshape(o.shape[:3]), dq)
                diff = ((o.float() - ref[0]).abs().max().item(),
                        (lse.float().reshape(o.shape[:3]) - ref[1]).abs().max().item(),
                        (dq - ref[2]).abs().max().item())
                print(f"| {kind} n={n} h={heads} seg={seg} r={rate} | {name} | {t_f * 1e3:.3f} | "
                      f"{flops / t_f / 1e12:.0f} | {t_b * 1e3:.3f} | {3.5 * flops / (t_f + t_b) / 1e12:.0f} | "
                      f"{diff[0]:.2e}, {diff[1]:.2e}, {diff[2]:.2e} |")
            except Exception as exc:  # a kernel that rejects the layout is a result too
                print(f"| {kind} n={n} h={heads} seg={seg} r={rate} | {name} | failed: "
                      f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]} | | | | |")
    q, k, v = operands("dense", 131072, 8, d, 0, 1, dtype)
    from torch.nn.attention import SDPBackend, sdpa_kernel
    for backend in (None, SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION):
        ctx = sdpa_kernel([backend]) if backend else contextlib.nullcontext()
        with ctx:
            t = timed(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v), "cuda", 5)
        print(f"F.scaled_dot_product_attention dense 131072 backend={backend}: {t * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
