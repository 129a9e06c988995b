"""Record old checkpoints: what the classes of ``dilated_attention_pytorch`` 0.2 saved, and computed.

Run with the OLD package importable (a separate process from ringlib, which takes over the
same import name):

    PYTHONPATH=<old source>:<its extra deps> CUDA_VISIBLE_DEVICES= python tests/legacy/record_checkpoints.py <old source> [out dir]

Two files:

* ``census.json``: for every class row of the registry, what the old class holds, built with
  small arguments: ``"state"`` (parameters or buffers), ``"no state"`` (an ``nn.Module``
  with an empty ``state_dict``), ``"not a module"``, or ``"raised: <error>"``.
* ``checkpoints.pt``: for each old class below, built right after ``torch.manual_seed(0)``
  (float32, CPU, eval mode) and run on seeded inputs, its ``state_dict`` after that call
  (lazy classes create their parameters there), the inputs and the eval-mode output. A lazy
  class whose first call left it in training mode (0.2's lazy init re-ran ``nn.Module.__init__``,
  which resets ``training``) is put in eval mode again and run a second time; its first,
  training-mode output is kept as ``first_output``.

The whole-model classes reuse ``recordings/models`` (``record_models.py``).
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
import warnings
from pathlib import Path

import torch

B, L, H, D = 1, 128, 2, 16
E = H * D
SMALL = {"embed_dim": E, "dim": E, "num_heads": H, "heads": H, "head_dim": D, "segment_lengths": [32, 64],
         "dilation_rates": [1, 2], "d_model": E, "nhead": H, "num_tokens": 50, "segment_size": 32,
         "dilation_rate": 1, "hidden_dim": E, "input_dim": D, "num_layers": 1}

# checkpoint key, import path (the old classes that hold state and run on CPU)
CHECKPOINTS = [
    ("RingDilatedAttentionCorrect", "dilated_attention_pytorch.ring.RingDilatedAttentionCorrect"),
    ("RingAttentionWrapper", "dilated_attention_pytorch.ring.base.ring_dilated_attention_correct.RingAttentionWrapper"),
    ("RingDilatedAttentionV3", "dilated_attention_pytorch.ring.RingDilatedAttentionV3"),
    ("RingDilatedAttentionSDPA", "dilated_attention_pytorch.ring.RingDilatedAttentionSDPA"),
    ("RingDilatedAttentionFixedSimple", "dilated_attention_pytorch.ring.RingDilatedAttentionFixedSimple"),
    ("RingDilatedAttentionMemoryEfficient", "dilated_attention_pytorch.ring.RingDilatedAttentionMemoryEfficient"),
    ("RingDilatedAttentionHilbertProper", "dilated_attention_pytorch.ring.hilbert.RingDilatedAttentionHilbertProper"),
    ("RingDilatedAttentionHilbertGPUOptimized",
     "dilated_attention_pytorch.ring.hilbert.RingDilatedAttentionHilbertGPUOptimized"),
    ("RingDilatedAttentionHilbertCore", "dilated_attention_pytorch.ring.hilbert.RingDilatedAttentionHilbertCore"),
    ("RingDilatedAttentionHilbertCoreFixed",
     "dilated_attention_pytorch.ring.hilbert.RingDilatedAttentionHilbertCoreFixed"),
    ("RingDilatedAttentionHilbertOptimizedCorrect",
     "dilated_attention_pytorch.ring.hilbert.RingDilatedAttentionHilbertOptimizedCorrect"),
    ("RingDilatedAttentionHilbertOptimizedFixedV2",
     "dilated_attention_pytorch.ring.hilbert.RingDilatedAttentionHilbertOptimizedFixedV2"),
    ("BlockSparseRingMultiheadDilatedAttention", "dilated_attention_pytorch.BlockSparseRingMultiheadDilatedAttention"),
    ("BlockSparseAdaptive", "dilated_attention_pytorch.BlockSparseAdaptive"),
    ("BlockSparseAdaptiveFixed", "dilated_attention_pytorch.sparse.BlockSparseAdaptiveFixed"),
    ("ImportanceScorer", "dilated_attention_pytorch.ImportanceScorer"),
]


def _resolve(path: str):
    module, _, attr = path.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _build(cls, kwargs_out: dict | None = None):
    params = inspect.signature(cls.__init__).parameters
    kwargs = {n: SMALL[n] for n in params if n in SMALL}
    if "sparse_config" in params and params["sparse_config"].default is inspect.Parameter.empty:
        # a required config object: the old default one
        kwargs["sparse_config"] = _resolve("dilated_attention_pytorch.SparsePatternConfig")()
    if kwargs_out is not None:
        kwargs_out.update(kwargs)
    torch.manual_seed(0)
    return cls(**kwargs)


def _inputs(forward) -> dict[str, torch.Tensor]:
    """Seeded inputs by the forward's first parameter: x (B, L, E), query/key/value (B, L, E),
    q/k/v (B, L, H, D) or block summaries q_summary/k_summary (B, L // 32, D); float16-exact values."""
    first = list(inspect.signature(forward).parameters)[1]  # after self
    names, shape = {"x": (["x"], (B, L, E)), "x_local": (["x"], (B, L, E)),
                    "query": (["query", "key", "value"], (B, L, E)), "q": (["q", "k", "v"], (B, L, H, D)),
                    "q_summary": (["q_summary", "k_summary"], (B, L // 32, D))}[first]
    gen = torch.Generator().manual_seed(1234)
    return {n: torch.randn(*shape, generator=gen).half().float() for n in names}


def _output(result) -> torch.Tensor:
    return (result[0] if isinstance(result, tuple) else result).detach().clone()


def record(key: str, path: str) -> dict:
    """The checkpoint and, where the old forward runs on CPU, its output (else the error)."""
    kwargs: dict = {}
    module = _build(_resolve(path), kwargs).eval()
    inputs = _inputs(type(module).forward)
    data = {"import_path": path, "kwargs": kwargs, "inputs": {k: v.half() for k, v in inputs.items()}}
    try:
        with torch.no_grad():
            result = module(*inputs.values())
            if module.training:  # a lazy class ran nn.Module.__init__ at this first call: training mode again
                data["first_output"] = _output(result)  # what that first call gave (training-mode numbers)
                module.eval()
                result = module(*inputs.values())
        data["output"] = _output(result)
    except Exception as exc:  # e.g. a Triton kernel without a GPU
        data["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    data["state_dict"] = {k: v.detach().clone() for k, v in module.state_dict().items()}
    return data


def census(classes: list[tuple[str, str]]) -> dict[str, str]:
    out = {}
    for key, path in classes:
        try:
            cls = _resolve(path)
            if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
                out[key] = "not a module"
                continue
            out[key] = "state" if _build(cls).state_dict() else "no state"
        except Exception as exc:  # recorded: the old class could not be built
            out[key] = f"raised: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    return out


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    sys.path.insert(0, argv[1])
    here = Path(__file__).resolve()
    sys.path.append(str(here.parents[2] / "legacy"))  # the registry, after the old package
    import dilated_attention_pytorch
    from ringlib_legacy import registry

    if not str(Path(dilated_attention_pytorch.__file__).resolve()).startswith(str(Path(argv[1]).resolve())):
        raise SystemExit(f"the old package is not first on the path: {dilated_attention_pytorch.__file__}")
    out_dir = Path(argv[2]) if len(argv) > 2 else here.parent / "recordings" / "checkpoints"
    out_dir.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    classes = [(e.key, e.paths[0]) for e in registry.LEGACY_NAMES if e.kind == "class"]
    (out_dir / "census.json").write_text(json.dumps(census(classes), indent=1, sort_keys=True) + "\n")
    data = {key: record(key, path) for key, path in CHECKPOINTS}
    torch.save(data, out_dir / "checkpoints.pt")
    for key, value in data.items():
        print(key, sorted(value["state_dict"]), value.get("error") or tuple(value["output"].shape))


if __name__ == "__main__":
    main(sys.argv)
