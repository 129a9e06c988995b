"""Record what the 0.2 helpers of ``core``, ``utils`` and ``kernels`` return, for the shim tests.

Run with the OLD package importable and ringlib absent (both are called
``dilated_attention_pytorch``), CPU only:

    CUDA_VISIBLE_DEVICES= PYTHONPATH=OLD_SRC:OLD_DEPS python tests/legacy/record_infra.py OLD_SRC \
        tests/legacy/recordings/infra.pt

Every case is a call with small seeded inputs; ``CASES`` in ``test_infra_recorded.py`` replays
the same calls on the shim.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path


def record() -> dict:
    import torch

    from dilated_attention_pytorch.core.simple_gpu_cache import SimpleGPUPatternCache
    from dilated_attention_pytorch.kernels.hilbert_attention_core import create_hilbert_mapping
    from dilated_attention_pytorch.utils import attention_utils as au
    from dilated_attention_pytorch.utils import dynamic_segment_selector as ds
    from dilated_attention_pytorch.utils import hilbert_curve as hc
    from dilated_attention_pytorch.utils import sparse_pattern_utils as sp

    out: dict = {}
    out["hilbert"] = {n: hc.generate_hilbert_indices(n) for n in (1, 2, 3, 4)}
    out["zorder"] = {wh: hc.generate_hilbert_indices_rectangular(*wh) for wh in ((3, 5), (8, 4), (7, 7), (1, 6), (5, 1))}
    out["snake_map"] = {n: create_hilbert_mapping(n) for n in (10, 65, 100, 200)}

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 12, 3, 8, generator=g) for _ in range(3))
    mask = torch.randn(12, 12, generator=g)
    qh, kh = q.transpose(1, 2), k.transpose(1, 2)
    out["inputs"] = {"q": q, "k": k, "v": v, "mask": mask}
    out["scores"] = au.compute_attention_scores(qh, kh)
    out["scores_causal_mask"] = au.compute_attention_scores(qh, kh, 0.3, mask, True)
    out["dilated_mask"] = {(s, r): au.create_dilated_mask(16, s, r, "cpu") for s in (3, 4, 8) for r in (1, 2, 3)}
    out["dilated_pattern"] = au.apply_dilated_attention_pattern(out["scores"], 4, 2, 0, 1)
    out["block_mask"] = {(bs, ov): au.create_block_diagonal_mask(17, bs, "cpu", ov) for bs in (4, 5) for ov in (0, 2, 6)}
    with torch.no_grad():
        out["standard"] = au.standard_attention(q, k, v)
        out["standard_causal"] = au.standard_attention(q, k, v, True)
        out["standard_mask"] = au.standard_attention(q, k, v, False, mask)
        out["optimized"] = au.optimize_attention_computation(q, k, v)
        out["optimized_causal"] = au.optimize_attention_computation(q, k, v, True)
    out["alibi"] = au.compute_alibi_bias(6, 3, "cpu")
    out["rotary"] = au.compute_rotary_embeddings(12, 8, "cpu")
    out["rotated"] = au.apply_rotary_embeddings(q, k, *out["rotary"])
    out["merged"] = au.merge_attention_heads(q, 3, 8)
    out["split"] = au.split_attention_heads(out["merged"], 4)
    out["causal4d"] = au.create_4d_causal_mask(5, "cpu")
    head_masks = [torch.rand(12, 12, generator=g) > 0.5, None, torch.eye(12)]
    out["head_masks"] = au.apply_head_specific_masks(out["scores"].clone(), head_masks)
    out["head_mask_inputs"] = head_masks
    out["positions"] = au.compute_position_embeddings(7, 10, "cpu")

    generated = {}
    for kind in ("local_window", "dilated_sparse", "global_local", "strided", "random", "hierarchical"):
        for ratio in (0.1, 0.25, 0.6):
            torch.manual_seed(7)
            cfg = sp.PatternConfig(pattern_type=sp.PatternType(kind), sparsity_ratio=ratio, block_size=32,
                                   local_window_size=128, global_tokens=64, dilation_rates=[1, 2, 3], stride=3)
            generated[(kind, ratio)] = sp.SparsePatternGenerator(cfg).generate_pattern(512, 3, torch.device("cpu"))
    out["patterns"] = generated
    pattern = generated[("dilated_sparse", 0.25)]
    out["stats"] = sp.analyze_pattern_statistics(pattern)
    out["hardware"] = {hw: sp.optimize_pattern_for_hardware(generated[("random", 0.1)], hw, 6)
                       for hw in ("cpu", "v100", "a100", "tpu")}
    qr, kr = torch.randn(1, 3, 64, 8, generator=g), torch.randn(1, 3, 64, 8, generator=g)
    small = generated[("local_window", 0.25)][:, :8, :8].clone()
    metrics = sp.PatternQualityAnalyzer().analyze_pattern_quality(small, q=qr, k=kr)
    out["metrics"] = vars(metrics)
    out["metrics_inputs"] = {"q": qr, "k": kr, "pattern": small}
    torch.manual_seed(11)
    out["optimized_pattern"] = sp.PatternOptimizer(0.99).optimize_pattern(small, None, 3)

    out["segments_cpu"] = {n: ds.DynamicSegmentSelector().select_segments(n, 2, 8, 64) for n in (100, 4096, 70000)}
    ds.HardwareAnalyzer.get_gpu_info = staticmethod(lambda: {"name": "NVIDIA A100-SXM4-40GB", "compute_capability": (8, 0),
                                                            "total_memory_gb": 40.0, "available_memory_gb": 30.0})
    out["segments_gpu"] = {(n, b): ds.DynamicSegmentSelector().select_segments(n, b, 8, 64)
                           for n in (1000, 3000, 16384, 100000) for b in (1, 64)}
    out["nearest_pow2"] = {n: ds.DynamicSegmentSelector._nearest_power_of_2(n) for n in (-3, 0, 1, 3, 5, 6, 7, 12, 100)}
    out["segment_memory"] = ds.MemoryEstimator.estimate_segment_memory(2, 1024, 8, 64, torch.float16)
    cache = SimpleGPUPatternCache(device=torch.device("cpu"), pregenerate=False)
    out["gpu_cache"] = {(s, r, o): cache.get_or_generate(f"{s}_{r}_{o}", s, r, o) for s in (8, 10) for r in (1, 3, 4)
                        for o in (0, 1)}
    return out


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit("usage: record_infra.py OLD_SOURCE_DIR OUTPUT.pt")
    sys.path.insert(0, sys.argv[1])
    warnings.simplefilter("ignore")
    import torch

    data = record()
    Path(sys.argv[2]).parent.mkdir(parents=True, exist_ok=True)
    torch.save(data, sys.argv[2])
    print(f"wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
