"""Shim objects behind the old names: registry key -> ``module:attribute`` (imported lazily)."""

from __future__ import annotations

import importlib

from ringlib_legacy import registry

from .infra_map import INFRA_IMPLEMENTATIONS

_P = "dilated_attention_pytorch._impl."

IMPLEMENTATIONS: dict[str, str] = {
    # x -> x modules with a fused projection
    **{name: f"{_P}ring_x:{name}" for name in (
        "RingDilatedAttentionCorrect", "RingAttentionWrapper", "RingDilatedAttentionV3", "RingDilatedAttentionSDPA",
        "RingDilatedAttentionFixedSimple", "RingDilatedAttentionMemoryEfficient", "RingDilatedAttentionHilbertProper",
        "RingDilatedAttentionHilbertGPUOptimized", "RingDilatedAttentionHilbertCore",
        "RingDilatedAttentionHilbertOptimizedCorrect", "RingDilatedAttentionHilbertOptimizedFixedV2")},
    # q, k, v modules
    "RingDilatedAttentionHilbertOptimizedFixed": f"{_P}ring_qkv:RingDilatedAttentionHilbertOptimizedFixed",
    "RingDilatedAttentionHilbertCoreFixed": f"{_P}ring_qkv:RingDilatedAttentionHilbertCoreFixed",
    # the old base package, models, dynamic attention and core factories (ringlib_legacy.rows.models)
    **{name: f"{_P}base_modules:{name}" for name in (
        "DilatedAttention", "ImprovedDilatedAttention", "MultiheadDilatedAttention",
        "ImprovedMultiheadDilatedAttention", "DistributedMultiheadDilatedAttention",
        "HeadParallelDilatedAttentionOptimized", "HeadParallelMultiheadDilatedAttentionOptimized",
        "create_improved_dilated_attention", "create_improved_multihead_dilated_attention")},
    "create_dilated_attention@base": f"{_P}base_modules:create_dilated_attention",
    "create_multihead_dilated_attention@base": f"{_P}base_modules:create_multihead_dilated_attention",
    **{name: f"{_P}models:{name}" for name in (
        "DilatedTransformerEncoderLayer", "DilatedTransformerDecoderLayer", "LongNet", "LongNetLM")},
    **{name: f"{_P}dynamic:{name}" for name in (
        "DynamicDilatedAttention", "DynamicMultiheadDilatedAttention", "create_dynamic_dilated_attention")},
    **{name: f"{_P}model_factory:{name}" for name in (
        "create_dilated_attention", "create_multihead_dilated_attention", "register_attention",
        "register_multihead_attention")},
    "create_block_sparse_attention@core": f"{_P}model_factory:create_block_sparse_attention",
    "RingDistributedDilatedAttention": f"{_P}distributed:RingDistributedDilatedAttention",
    # functional ring attention and LSE helpers
    **{name: f"{_P}functions:{name}" for name in (
        "RingAttentionFunction", "ring_attention", "MemoryEfficientRingAttentionFunction",
        "memory_efficient_ring_attention", "StableRingAccumulator", "StableAttentionAccumulator", "update_lse",
        "compute_lse", "compute_lse_triton", "compute_attention_with_lse", "ring_pass_lse")},
    # communication helpers
    **{name: f"{_P}comm:{name}" for name in (
        "ring_pass_kv", "ring_pass_gradients", "ring_pass_kv_safe", "ring_pass_forward", "exists",
        "create_causal_mask", "all_ring_pass", "split_by_rank", "safe_ring_pass", "safe_ring_pass_kv",
        "validate_tensor_for_ring_pass", "create_ring_groups", "get_memory_info", "RingCommunicator",
        "ring_pass_kv_no_deadlock", "test_ring_communication")},
    "ring_pass_kv_safe@sdpa": f"{_P}comm:ring_pass_kv_safe_sdpa",
    "safe_ring_pass@fixed_simple": f"{_P}comm:safe_ring_pass_kv_pair",
    "all_ring_pass@fixed": f"{_P}comm:all_ring_pass_safe",
    # configs
    **{name: f"{_P}configs:{name}" for name in (
        "SparsePatternConfig", "AdaptiveConfig", "DistributedSparseConfig", "DistributedSparsePattern",
        "HAS_DEEPSPEED", "HAS_APEX")},
    # block-sparse family
    **{name: f"{_P}block_sparse:{name}" for name in (
        "BlockSparseRingDilatedAttention", "BlockSparseRingDilatedAttentionFixed",
        "BlockSparseRingDilatedAttentionHilbertPostPattern", "BlockSparseRingMultiheadDilatedAttention",
        "PostPatternHilbertOptimizer", "create_post_pattern_hilbert_attention")},
    **{name: f"{_P}adaptive:{name}" for name in (
        "BlockSparseAdaptive", "ImportanceScorer", "AdaptiveSparsityTrainer")},
    "BlockSparseAdaptiveFixed": f"{_P}adaptive_lazy:BlockSparseAdaptive",
    "create_adaptive_block_sparse_consistent": f"{_P}adaptive_lazy:create_adaptive_block_sparse_consistent",
    "create_adaptive_block_sparse@adaptive": f"{_P}adaptive:create_adaptive_block_sparse",
    "BlockSparseRingDistributedDilatedAttention": f"{_P}hierarchical:BlockSparseRingDistributedDilatedAttention",
    "HierarchicalSparsePatternGenerator": f"{_P}hierarchical:HierarchicalSparsePatternGenerator",
    **{name: f"{_P}factory:{name}" for name in (
        "create_block_sparse_attention", "create_adaptive_block_sparse", "create_multihead_block_sparse",
        "get_block_sparse_preset", "BlockSparseVariant")},
}

IMPLEMENTATIONS.update(INFRA_IMPLEMENTATIONS)  # the core/utils/kernels rows (issue 16)

_RESOLVED: dict[str, object] = {}


def resolve(key: str):
    """The shim object of a registry key (module entries have none: the module is generated).

    Classes and functions report their old home module, so pickles and reprs point there.
    """
    if key not in _RESOLVED:
        module, _, attr = IMPLEMENTATIONS[key].partition(":")
        obj = getattr(importlib.import_module(module), attr)
        home = home_module(key, getattr(obj, "__name__", None))
        if home is not None and (isinstance(obj, type) or callable(obj)) and obj.__module__.startswith(_P):
            obj.__module__ = home
            importlib.import_module(home)  # so inspect finds the module (and its __file__)
        _RESOLVED[key] = obj
    return _RESOLVED[key]


def home_module(key: str, defined_as: str | None = None) -> str | None:
    """The old defining module of a name (pickles and reprs point there): the deepest path
    that spells the object's own name (``sparse.BlockSparseAdaptiveFixed`` was an alias of
    ``sparse.block_sparse_adaptive_fixed.BlockSparseAdaptive``)."""
    entry = registry.by_key()[key]
    homes = [p.rpartition(".")[0] for p in entry.paths if p.rpartition(".")[2] == defined_as]
    homes = homes or [p.rpartition(".")[0] for p in entry.paths if p.rpartition(".")[2] == entry.name]
    return max(homes, key=lambda m: m.count("."), default=None)
