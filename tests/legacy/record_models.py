"""Record what the old attention modules and models of ``dilated_attention_pytorch`` 0.2 computed.

Run with the OLD package importable (a separate process from ringlib, which takes over the
same import name):

    PYTHONPATH=<old source>:<its extra deps> CUDA_VISIBLE_DEVICES= python tests/legacy/record_models.py <old source> [out dir]

Each case is built right after ``torch.manual_seed(0)`` (float32, CPU, eval mode, dropout 0)
and writes one file ``<case>.pt`` holding the constructor call, the forward inputs (seeded,
generator), the output, the input gradients for a seeded ``grad_output`` and the full
seed-0 ``state_dict`` (float32: it both pins the initialisation order and lets the shim load
the exact weights). Where the old code raised, the file holds the error instead.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path

import torch

SEG, RATES = [16, 32], [1, 2]
B, L, H, D = 2, 64, 4, 16
E = H * D
SMALL_MODEL = dict(d_model=E, nhead=H, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=96,
                   segment_lengths=SEG, dilation_rates=RATES)

# name, import path, constructor args, constructor kwargs, forward inputs (name -> kind), forward kwargs
QKV = {"query": "qkv", "key": "qkv", "value": "qkv"}
X3 = {"query": "x"}
CASES = [
    ("DilatedAttention", "dilated_attention_pytorch.DilatedAttention", [SEG, RATES], {}, QKV, {}),
    ("DilatedAttention_causal", "dilated_attention_pytorch.DilatedAttention", [SEG, RATES], {}, QKV,
     {"is_causal": True}),
    ("DilatedAttention_three_pairs", "dilated_attention_pytorch.base.dilated_attention.DilatedAttention",
     [[8, 16, 32], [1, 2, 4]], {"softmax_scale": 0.5}, QKV, {}),
    ("create_dilated_attention@base", "dilated_attention_pytorch.base.create_dilated_attention", [SEG, RATES], {},
     QKV, {}),
    ("ImprovedDilatedAttention", "dilated_attention_pytorch.ImprovedDilatedAttention", [SEG, RATES], {}, QKV, {}),
    ("ImprovedDilatedAttention_causal", "dilated_attention_pytorch.ImprovedDilatedAttention", [SEG, RATES], {}, QKV,
     {"is_causal": True}),
    ("ImprovedDilatedAttention_three_pairs", "dilated_attention_pytorch.ImprovedDilatedAttention",
     [[8, 16, 32], [1, 2, 4]], {}, QKV, {}),
    ("MultiheadDilatedAttention", "dilated_attention_pytorch.MultiheadDilatedAttention", [E, H, RATES, SEG], {}, X3,
     {}),
    ("MultiheadDilatedAttention_cross_causal", "dilated_attention_pytorch.MultiheadDilatedAttention",
     [E, H, RATES, SEG], {"layer_norm": False, "gamma_init": 0.5}, {"query": "x", "key": "x", "value": "x"},
     {"is_causal": True}),
    ("ImprovedMultiheadDilatedAttention", "dilated_attention_pytorch.ImprovedMultiheadDilatedAttention",
     [E, H, RATES, SEG], {}, X3, {}),
    ("ImprovedMultiheadDilatedAttention_cross", "dilated_attention_pytorch.ImprovedMultiheadDilatedAttention",
     [E, H, RATES, SEG], {"gamma_init": 0.5}, {"query": "x", "key": "x", "value": "x"}, {"is_causal": True}),
    ("DilatedTransformerEncoderLayer", "dilated_attention_pytorch.DilatedTransformerEncoderLayer", [E, H, SEG, RATES],
     {"dim_feedforward": 96, "dropout": 0.0}, {"src": "x"}, {"is_causal": True}),
    ("DilatedTransformerDecoderLayer", "dilated_attention_pytorch.DilatedTransformerDecoderLayer", [E, H, SEG, RATES],
     {"dim_feedforward": 96, "dropout": 0.0, "activation": "gelu"}, {"tgt": "x", "memory": "x"},
     {"tgt_is_causal": True}),
    ("LongNet", "dilated_attention_pytorch.LongNet", [], SMALL_MODEL, {"x": "x"}, {}),
    ("LongNetLM", "dilated_attention_pytorch.models.long_net.LongNetLM", [50], SMALL_MODEL, {"x": "tokens"},
     {"is_causal": False}),
    ("DynamicDilatedAttention", "dilated_attention_pytorch.DynamicDilatedAttention", [], {}, QKV, {}),
    ("DynamicDilatedAttention_standard", "dilated_attention_pytorch.dynamic_dilated_attention.DynamicDilatedAttention",
     [], {"improved": False, "min_segment_size": 64}, QKV, {"is_causal": True}),
    ("DynamicMultiheadDilatedAttention", "dilated_attention_pytorch.DynamicMultiheadDilatedAttention", [E, H], {},
     {"query": "x", "key": "x", "value": "x"}, {}),
    ("create_dynamic_dilated_attention", "dilated_attention_pytorch.create_dynamic_dilated_attention", ["basic"], {},
     QKV, {}),
    # the old code raised here (CPU, torch 2.13): recorded as errors
    ("create_multihead_dilated_attention", "dilated_attention_pytorch.create_multihead_dilated_attention",
     ["improved"], {"embed_dim": E, "num_heads": H, "segment_lengths": SEG, "dilation_rates": RATES}, X3, {}),
    ("create_dilated_attention", "dilated_attention_pytorch.create_dilated_attention", ["improved"],
     {"segment_lengths": SEG, "dilation_rates": RATES}, QKV, {}),
    ("DistributedMultiheadDilatedAttention",
     "dilated_attention_pytorch.base.distributed_dilated_attention.DistributedMultiheadDilatedAttention",
     [E, H, RATES, SEG], {}, {"query": "x", "key": "x", "value": "x"}, {}),
    ("HeadParallelDilatedAttentionOptimized",
     "dilated_attention_pytorch.base.head_parallel_dilated_attention_optimized.HeadParallelDilatedAttentionOptimized",
     [SEG, RATES], {}, QKV, {}),
    ("HeadParallelMultiheadDilatedAttentionOptimized",
     "dilated_attention_pytorch.base.head_parallel_dilated_attention_optimized."
     "HeadParallelMultiheadDilatedAttentionOptimized", [E, H, SEG, RATES], {}, {"query": "x", "key": "x", "value": "x"},
     {}),
]


def _inputs(kinds: dict[str, str]) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1234)
    shapes = {"qkv": (B, L, H, D), "x": (B, L, E)}
    out = {}
    for name, kind in kinds.items():
        if kind == "tokens":
            out[name] = torch.randint(0, 50, (B, L), generator=gen)
        else:
            out[name] = torch.randn(*shapes[kind], generator=gen).half().float()  # exact in float16
    return out


def _resolve(path: str):
    module, _, attr = path.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def record(case) -> dict:
    name, path, args, kwargs, kinds, fwd = case
    data = {"name": name, "format_version": 1, "import_path": path, "args": args, "kwargs": kwargs,
            "forward_kwargs": fwd, "input_names": list(kinds)}
    inputs = _inputs(kinds)
    data["inputs"] = {k: v.half() if v.is_floating_point() else v for k, v in inputs.items()}
    try:
        torch.manual_seed(0)
        module = _resolve(path)(*args, **kwargs)
        module.eval()
        state = module.state_dict()
        data["init_fingerprint"] = {k: {"shape": list(v.shape), "sum": v.double().sum().item(),
                                        "first": v.flatten()[:8].double().tolist()}
                                    for k, v in state.items() if v.is_floating_point()}
        with torch.no_grad():  # bfloat16-exact weights: stored losslessly at half the size
            for v in state.values():
                if v.is_floating_point():
                    v.copy_(v.bfloat16().float())
        data["state_dict"] = {k: v.detach().bfloat16() if v.is_floating_point() else v.detach().clone()
                              for k, v in module.state_dict().items()}
        leaves = {k: (v.clone().requires_grad_(v.is_floating_point())) for k, v in inputs.items()}
        result = module(*leaves.values(), **fwd)
    except Exception as exc:  # the old code raised: the policy of this name is "intended"
        data["error"] = f"{type(exc).__name__}: {exc}"
        return data
    out = result[0] if isinstance(result, tuple) else result
    data["returns_tuple"] = isinstance(result, tuple)
    extra = result[1] if isinstance(result, tuple) else None
    data["extra_output"] = None if not isinstance(extra, torch.Tensor) else {
        "shape": list(extra.shape), "min": extra.min().item(), "max": extra.max().item()}
    data["output"] = out.detach().clone()
    data["config"] = list(getattr(module, "get_current_configuration", lambda: ())())
    # +-1 on batch element 0, exactly 0 on batch element 1: the stored batch-0 gradient is all of it
    grad_output = torch.randn(out.shape, generator=torch.Generator().manual_seed(4321)).sign()
    grad_output[1:] = 0
    data["grad_output"] = grad_output.to(torch.int8)
    try:
        out.backward(grad_output)
        data["grads"] = {k: v.grad[0:1].half() for k, v in leaves.items() if v.grad is not None}
    except Exception as exc:
        data["grads"] = {}
        data["backward_error"] = f"{type(exc).__name__}: {exc}"
    return data


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    sys.path.insert(0, argv[1])
    out_dir = Path(argv[2]) if len(argv) > 2 else Path(__file__).parent / "recordings" / "models"
    out_dir.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    for case in CASES:
        data = record(case)
        torch.save(data, out_dir / f"{case[0]}.pt")
        print(f"{case[0]}: {data.get('error', 'ok')}")


if __name__ == "__main__":
    main(sys.argv)
