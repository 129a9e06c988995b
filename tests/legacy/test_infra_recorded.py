"""The 0.2 helpers of ``core``/``utils``/``kernels`` return what the old code returned.

``recordings/infra.pt`` was written by ``record_infra.py`` running the old package; each test
repeats the recorded call through the shim's old import paths.
"""

import warnings
from pathlib import Path

import pytest
import torch

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from dilated_attention_pytorch.core.simple_gpu_cache import SimpleGPUPatternCache
    from dilated_attention_pytorch.kernels.hilbert_attention_core import create_hilbert_mapping
    from dilated_attention_pytorch.utils import attention_utils as au
    from dilated_attention_pytorch.utils import dynamic_segment_selector as ds
    from dilated_attention_pytorch.utils import hilbert_curve as hc
    from dilated_attention_pytorch.utils import sparse_pattern_utils as sp

REC = torch.load(Path(__file__).parent / "recordings" / "infra.pt", weights_only=False)
EXACT = dict(rtol=0, atol=0)
FP32 = dict(rtol=1e-5, atol=1e-6)


def test_hilbert_and_zorder_indices():
    for n, indices in REC["hilbert"].items():
        assert hc.generate_hilbert_indices(n) == indices
    for (w, h), indices in REC["zorder"].items():
        assert hc.generate_hilbert_indices_rectangular(w, h) == indices
    for n, mapping in REC["snake_map"].items():
        torch.testing.assert_close(create_hilbert_mapping(n), mapping, **EXACT)


def test_curve_argument_errors():
    with pytest.raises(ValueError, match="positive"):
        hc.generate_hilbert_indices(0)
    with pytest.raises(ValueError, match="positive"):
        hc.generate_hilbert_indices_rectangular(0, 3)


def test_masks():
    for (s, r), mask in REC["dilated_mask"].items():
        torch.testing.assert_close(au.create_dilated_mask(16, s, r, "cpu"), mask, **EXACT)
    for (bs, ov), mask in REC["block_mask"].items():
        torch.testing.assert_close(au.create_block_diagonal_mask(17, bs, "cpu", ov), mask, **EXACT)
    torch.testing.assert_close(au.create_4d_causal_mask(5, "cpu"), REC["causal4d"], **EXACT)


def test_scores_and_attention():
    q, k, v, mask = (REC["inputs"][n] for n in ("q", "k", "v", "mask"))
    qh, kh = q.transpose(1, 2), k.transpose(1, 2)
    torch.testing.assert_close(au.compute_attention_scores(qh, kh), REC["scores"], **FP32)
    torch.testing.assert_close(au.compute_attention_scores(qh, kh, 0.3, mask, True), REC["scores_causal_mask"], **FP32)
    torch.testing.assert_close(au.apply_dilated_attention_pattern(REC["scores"], 4, 2, 0, 1), REC["dilated_pattern"], **FP32)
    with torch.no_grad():
        torch.testing.assert_close(au.standard_attention(q, k, v), REC["standard"], **FP32)
        torch.testing.assert_close(au.standard_attention(q, k, v, True), REC["standard_causal"], **FP32)
        torch.testing.assert_close(au.standard_attention(q, k, v, False, mask), REC["standard_mask"], **FP32)
        torch.testing.assert_close(au.optimize_attention_computation(q, k, v), REC["optimized"], **FP32)
        torch.testing.assert_close(au.optimize_attention_computation(q, k, v, True), REC["optimized_causal"], **FP32)
    masked = au.apply_head_specific_masks(REC["scores"].clone(), REC["head_mask_inputs"])
    torch.testing.assert_close(masked, REC["head_masks"], **EXACT)


def test_positional_tables_and_reshapes():
    q, k = REC["inputs"]["q"], REC["inputs"]["k"]
    torch.testing.assert_close(au.compute_alibi_bias(6, 3, "cpu"), REC["alibi"], **FP32)
    cos, sin = au.compute_rotary_embeddings(12, 8, "cpu")
    torch.testing.assert_close((cos, sin), REC["rotary"], **FP32)
    torch.testing.assert_close(au.apply_rotary_embeddings(q, k, cos, sin), REC["rotated"], **FP32)
    torch.testing.assert_close(au.merge_attention_heads(q, 3, 8), REC["merged"], **EXACT)
    torch.testing.assert_close(au.split_attention_heads(REC["merged"], 4), REC["split"], **EXACT)
    torch.testing.assert_close(au.compute_position_embeddings(7, 10, "cpu"), REC["positions"], **FP32)


@pytest.mark.parametrize("kind,ratio", sorted(REC["patterns"]))
def test_pattern_generator_matches_seeded_old_patterns(kind, ratio):
    torch.manual_seed(7)
    cfg = sp.PatternConfig(pattern_type=sp.PatternType(kind), sparsity_ratio=ratio, block_size=32,
                           local_window_size=128, global_tokens=64, dilation_rates=[1, 2, 3], stride=3)
    pattern = sp.SparsePatternGenerator(cfg).generate_pattern(512, 3, torch.device("cpu"))
    torch.testing.assert_close(pattern, REC["patterns"][(kind, ratio)], **EXACT)


def test_pattern_tools():
    pattern = REC["patterns"][("dilated_sparse", 0.25)]
    assert sp.analyze_pattern_statistics(pattern) == pytest.approx(REC["stats"])
    for hw, aligned in REC["hardware"].items():
        torch.testing.assert_close(sp.optimize_pattern_for_hardware(REC["patterns"][("random", 0.1)], hw, 6), aligned,
                                   **EXACT)
    inputs = REC["metrics_inputs"]
    metrics = sp.PatternQualityAnalyzer().analyze_pattern_quality(inputs["pattern"], q=inputs["q"], k=inputs["k"])
    assert vars(metrics) == pytest.approx(REC["metrics"])
    torch.manual_seed(11)
    optimized = sp.PatternOptimizer(0.99).optimize_pattern(inputs["pattern"], None, 3)
    torch.testing.assert_close(optimized, REC["optimized_pattern"], **EXACT)


def test_segment_selector(monkeypatch):
    for n, chosen in REC["segments_cpu"].items():
        if not torch.cuda.is_available():
            assert ds.DynamicSegmentSelector().select_segments(n, 2, 8, 64) == chosen
    fake = {"name": "NVIDIA A100-SXM4-40GB", "compute_capability": (8, 0), "total_memory_gb": 40.0,
            "available_memory_gb": 30.0}
    monkeypatch.setattr(ds.HardwareAnalyzer, "get_gpu_info", staticmethod(lambda: fake))
    for (n, b), chosen in REC["segments_gpu"].items():
        assert ds.DynamicSegmentSelector().select_segments(n, b, 8, 64) == chosen, (n, b)
    for n, p in REC["nearest_pow2"].items():
        assert ds.DynamicSegmentSelector._nearest_power_of_2(n) == p
    assert ds.MemoryEstimator.estimate_segment_memory(2, 1024, 8, 64, torch.float16) == REC["segment_memory"]


def test_simple_gpu_cache_patterns():
    cache = SimpleGPUPatternCache(device=torch.device("cpu"), pregenerate=False)
    for (s, r, o), pattern in REC["gpu_cache"].items():
        torch.testing.assert_close(cache.get_or_generate(f"{s}_{r}_{o}", s, r, o), pattern, **EXACT)
