"""The 0.2 infrastructure used the way 0.2 code used it (issue 16): import paths, pools,
caches, configs, the Hilbert kernel module, zero-length inputs and ``inspect.getsource``."""

import importlib
import importlib.util
import inspect
from pathlib import Path

import pytest
import torch

from ringlib_legacy import registry

INFRA_MODULES = sorted(p for e in registry.LEGACY_NAMES if e.kind == "module" for p in e.paths
                       if p.split(".")[1] in ("core", "utils", "kernels"))


def test_every_old_infrastructure_module_imports_and_lists_its_names(quiet):
    assert len(INFRA_MODULES) == 31
    for path in INFRA_MODULES:
        module = importlib.import_module(path)
        for name in module.__all__:
            getattr(module, name)


def test_memory_pools_hand_out_and_reuse_tensors(quiet):
    from dilated_attention_pytorch.core import get_global_memory_pool, reset_global_memory_pool
    from dilated_attention_pytorch.core.bucketed_memory_pool import BucketedMemoryPool
    from dilated_attention_pytorch.core.memory_pool import UnifiedMemoryPool

    reset_global_memory_pool()
    pool = get_global_memory_pool()
    a = pool.allocate((4, 8), torch.float16, torch.device("cpu"))
    assert a.shape == (4, 8) and a.dtype == torch.float16
    pool.deallocate(a)
    assert pool.allocate((4, 8), torch.float16, torch.device("cpu")) is a
    assert pool.get_stats()["reuses"] == 1
    unified = UnifiedMemoryPool()
    buf = unified.get_buffer((2, 3), torch.float32, torch.device("cpu"), pool_type="ring")
    assert unified.get_buffer((2, 3), torch.float32, torch.device("cpu"), pool_type="ring") is buf
    assert unified.get_stats()["pool_sizes"] == {"ring": 1}
    bucketed = BucketedMemoryPool()
    t = bucketed.allocate(4096, torch.float32, torch.device("cpu"), (32, 32))
    assert t.shape == (32, 32)


def test_configs_validate_like_0_2(quiet):
    from dilated_attention_pytorch.core import DilatedAttentionConfig, MultiheadConfig, RingAttentionConfig

    cfg = DilatedAttentionConfig(segment_lengths=[2048, 4096, 8192], dilation_rates=[1, 2, 4], dropout=0.1)
    assert cfg.num_groups == 3 and cfg.max_segment_length == 8192 and cfg.dtype == torch.float32
    with pytest.raises(ValueError, match="same length"):
        DilatedAttentionConfig(segment_lengths=[1, 2], dilation_rates=[1])
    with pytest.raises(ValueError, match=r"dilation_rates\[1\] must be positive"):
        RingAttentionConfig(segment_lengths=[4, 8], dilation_rates=[1, 0])
    assert MultiheadConfig(embed_dim=64, num_heads=8).head_dim == 8
    with pytest.raises(ValueError, match="divisible"):
        MultiheadConfig(embed_dim=60, num_heads=8)


def test_caches_profiler_numa_registry(tmp_path, quiet):
    from dilated_attention_pytorch.core import DilatedPatternCache, create_dilated_attention, register_attention
    from dilated_attention_pytorch.core.memory_profiler import MemoryProfiler
    from dilated_attention_pytorch.core.numa_aware_pool import NUMATopologyDetector
    from dilated_attention_pytorch.core.optimized_pattern_cache import OptimizedPatternCache
    from dilated_attention_pytorch.core.factory import register_multihead_attention

    cache = DilatedPatternCache()
    cache.put("p", torch.arange(4))
    assert torch.equal(cache.get("p", torch.device("cpu")), torch.arange(4))
    lru = OptimizedPatternCache(max_cpu_patterns=1)
    lru.put("a", torch.ones(2))
    lru.put("b", torch.zeros(2))
    assert lru.get("a") is None and torch.equal(lru.get("b"), torch.zeros(2))
    profiler = MemoryProfiler()
    profiler.start_profiling()
    x = torch.ones(10)
    profiler.record_allocation(x, pool_type="test")
    with profiler.profile_operation("op"):
        pass
    summary = profiler.get_allocation_summary()
    assert summary["total_allocations"] == 1 and summary["total_bytes_allocated"] == 40
    profiler.export_data(tmp_path / "profile.json")
    assert (tmp_path / "profile.json").stat().st_size > 0
    detector = NUMATopologyDetector()
    detector.detect()
    assert sum(n.num_cores for n in detector.nodes.values()) >= 1
    register_attention("mine", torch.nn.Identity)
    assert isinstance(create_dilated_attention("mine", segment_lengths=[16], dilation_rates=[1]), torch.nn.Identity)
    with pytest.raises(TypeError, match="cls must be a class"):
        register_multihead_attention("bad", "not a class")


def _strided_segment_reference(x, core):
    """float64 reference of the intended HilbertAttentionCore: gather by the row-snake map,
    per segment each query attends to segment rows 0, r, 2r, ..., scatter back."""
    b, n, e = x.shape
    h, d, s, r = core.num_heads, core.head_dim, core.segment_size, core.dilation_rate
    w = core.qkv_proj.weight.double()
    q, k, v = (x.double() @ w.T).view(b, n, 3, h, d).unbind(2)
    order = core.get_hilbert_mapping(n, x.device).long()
    out = torch.empty_like(q)
    for start in range(0, n, s):
        rows = order[start:start + s]
        keys = rows[::r]
        scores = torch.einsum("bqhd,bkhd->bhqk", q[:, rows], k[:, keys]) * d ** -0.5
        out[:, rows] = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v[:, keys])
    return out.reshape(b, n, e) @ core.out_proj.weight.double().T


@pytest.mark.parametrize("n,segment,rate", [(128, 32, 2), (100, 25, 3), (40, 8, 1)])
def test_hilbert_attention_core_is_strided_segment_attention(n, segment, rate, quiet):
    from dilated_attention_pytorch.kernels import HilbertAttentionCore

    torch.manual_seed(0)
    core = HilbertAttentionCore(32, 4, segment_size=segment, dilation_rate=rate)
    x = torch.randn(2, n, 32, requires_grad=True)
    out = core(x)
    ref = _strided_segment_reference(x.detach(), core)
    low = _strided_segment_reference(x.detach().half().float(), core)  # a plain low-precision error scale
    assert (out.double() - ref).abs().max() <= 4 * max((low - ref).abs().max(), 1e-6)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_hilbert_function_gradient_matches_autograd(quiet):
    from dilated_attention_pytorch.kernels import HilbertAttentionFunction
    from dilated_attention_pytorch.kernels.hilbert_attention_core import create_hilbert_mapping

    torch.manual_seed(1)
    qkv = torch.randn(3, 1, 2, 48, 4, dtype=torch.float64, requires_grad=True)
    mapping = create_hilbert_mapping(48)
    assert torch.autograd.gradcheck(lambda t: HilbertAttentionFunction.apply(t, 0.35, mapping, 16, 2, 48, 48, 1, 2, 4),
                                    (qkv,), eps=1e-6, atol=1e-5, fast_mode=True)


def test_zero_length_sequences_give_empty_outputs(quiet):
    spec = importlib.util.spec_from_file_location("golden_cases", Path(__file__).with_name("test_golden.py"))
    golden = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(golden)
    FILES, GOLDEN, _class, _kwargs = golden.FILES, golden.GOLDEN, golden._class, golden._kwargs
    for name in FILES:
        g = torch.load(GOLDEN / f"{name}.pt", weights_only=True)
        module = _class(name)(**_kwargs(g["constructor_kwargs"])).eval()
        args = [t[:, :0].float() for key, t in g["inputs"].items() if key != "grad_output"]
        out = module(*args, **g["forward_kwargs"])
        assert out.shape == args[0].shape, name


def test_getsource_of_shim_classes(quiet):
    from dilated_attention_pytorch import BlockSparseRingDilatedAttention, PatternConfig
    from dilated_attention_pytorch.kernels import HilbertAttentionCore
    from dilated_attention_pytorch.ring import RingDilatedAttentionCorrect

    for cls in (BlockSparseRingDilatedAttention, PatternConfig, HilbertAttentionCore, RingDilatedAttentionCorrect):
        source = inspect.getsource(cls)
        assert f"class {cls.__qualname__}" in source and cls.__module__.startswith("dilated_attention_pytorch.")


def test_post_pattern_optimization_impact(quiet):
    from dilated_attention_pytorch import SparsePatternConfig
    from dilated_attention_pytorch.sparse import BlockSparseRingDilatedAttentionHilbertPostPattern

    module = BlockSparseRingDilatedAttentionHilbertPostPattern(
        [64, 128], [1, 2], SparsePatternConfig(pattern_type="dilated_sparse", sparsity_ratio=0.3, block_size=32))
    impact = module.analyze_optimization_impact(512)
    assert impact["num_blocks"] == 16 and impact["pattern_preserved"] is True
    assert impact["num_connections"] > 16
    assert impact["improvement"] == pytest.approx(
        (impact["standard_cache_metric"] - impact["optimized_cache_metric"]) / impact["standard_cache_metric"] * 100)
