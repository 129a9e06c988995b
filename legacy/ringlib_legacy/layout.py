"""The module layout of the old package: its flat modules and the ``__all__`` lists it declared.

The shim builds its module tree from these and from the rows' paths. A row lists the flat
twin of each path under a nested module of ``FLAT_MODULES`` (a test checks it)."""

from __future__ import annotations

ROOT = "dilated_attention_pytorch"

#: nested module -> flat module of the earlier layout; both hold the same objects.
FLAT_MODULES: dict[str, str] = {
    "dilated_attention_pytorch.ring.base.ring_dilated_attention_correct": "dilated_attention_pytorch.ring_dilated_attention_correct",
    "dilated_attention_pytorch.ring.base.ring_dilated_attention_v3": "dilated_attention_pytorch.ring_dilated_attention_v3",
    "dilated_attention_pytorch.ring.base.ring_dilated_attention_sdpa": "dilated_attention_pytorch.ring_dilated_attention_sdpa",
    "dilated_attention_pytorch.ring.base.ring_dilated_attention_fixed_simple": "dilated_attention_pytorch.ring_dilated_attention_fixed_simple",
    "dilated_attention_pytorch.ring.base.ring_dilated_attention_memory_efficient": "dilated_attention_pytorch.ring_dilated_attention_memory_efficient",
    "dilated_attention_pytorch.ring.hilbert.ring_dilated_attention_hilbert_proper": "dilated_attention_pytorch.ring_dilated_attention_hilbert_proper",
    "dilated_attention_pytorch.ring.hilbert.ring_dilated_attention_hilbert_core": "dilated_attention_pytorch.ring_dilated_attention_hilbert_core",
    "dilated_attention_pytorch.ring.hilbert.ring_dilated_attention_hilbert_core_fixed": "dilated_attention_pytorch.ring_dilated_attention_hilbert_core_fixed",
    "dilated_attention_pytorch.ring.hilbert.ring_dilated_attention_hilbert_optimized_correct": "dilated_attention_pytorch.ring_dilated_attention_hilbert_optimized_correct",
    "dilated_attention_pytorch.ring.hilbert.ring_dilated_attention_hilbert_optimized_fixed": "dilated_attention_pytorch.ring_dilated_attention_hilbert_optimized_fixed",
    "dilated_attention_pytorch.ring.hilbert.ring_dilated_attention_hilbert_optimized_fixed_v2": "dilated_attention_pytorch.ring_dilated_attention_hilbert_optimized_fixed_v2",
    "dilated_attention_pytorch.ring.hilbert.ring_dilated_attention_hilbert_gpu_optimized": "dilated_attention_pytorch.ring_dilated_attention_hilbert_gpu_optimized",
    "dilated_attention_pytorch.ring.distributed.ring_distributed_dilated_attention": "dilated_attention_pytorch.ring_distributed_dilated_attention",
    "dilated_attention_pytorch.sparse.block_sparse_ring_dilated_attention": "dilated_attention_pytorch.block_sparse_ring_dilated_attention",
    "dilated_attention_pytorch.sparse.block_sparse_ring_dilated_attention_fixed": "dilated_attention_pytorch.block_sparse_ring_dilated_attention_fixed",
    "dilated_attention_pytorch.sparse.block_sparse_ring_dilated_attention_hilbert_post_pattern": "dilated_attention_pytorch.block_sparse_ring_dilated_attention_hilbert_post_pattern",
    "dilated_attention_pytorch.sparse.block_sparse_ring_multihead_dilated_attention": "dilated_attention_pytorch.block_sparse_ring_multihead_dilated_attention",
    "dilated_attention_pytorch.sparse.block_sparse_ring_distributed_dilated_attention": "dilated_attention_pytorch.block_sparse_ring_distributed_dilated_attention",
    "dilated_attention_pytorch.sparse.block_sparse_adaptive": "dilated_attention_pytorch.block_sparse_adaptive",
    "dilated_attention_pytorch.sparse.block_sparse_adaptive_fixed": "dilated_attention_pytorch.block_sparse_adaptive_fixed",
    "dilated_attention_pytorch.sparse.block_sparse_factory": "dilated_attention_pytorch.block_sparse_factory",
    "dilated_attention_pytorch.ring.utils.ring_attention_autograd": "dilated_attention_pytorch.ring_attention_autograd",
    "dilated_attention_pytorch.ring.utils.ring_attention_memory_efficient": "dilated_attention_pytorch.ring_attention_memory_efficient",
    "dilated_attention_pytorch.ring.utils.ring_attention_lse": "dilated_attention_pytorch.ring_attention_lse",
    "dilated_attention_pytorch.ring.utils.ring_attention_utils": "dilated_attention_pytorch.ring_attention_utils",
    "dilated_attention_pytorch.ring.utils.ring_attention_utils_fixed": "dilated_attention_pytorch.ring_attention_utils_fixed",
    "dilated_attention_pytorch.ring.utils.ring_attention_fixed_deadlock": "dilated_attention_pytorch.ring_attention_fixed_deadlock",
}

#: ``__all__`` of the old packages and modules that declared one, in their order (the root
#: listed ``create_adaptive_block_sparse`` twice: kept, so ``__all__`` equals the old list).
MODULE_ALL: dict[str, tuple[str, ...]] = {
    "dilated_attention_pytorch": (
        "BlockSparseRingDilatedAttention", "BlockSparseRingDistributedDilatedAttention",
        "BlockSparseRingMultiheadDilatedAttention", "BlockSparseAdaptive", "AdaptiveConfig",
        "ImportanceScorer", "AdaptiveSparsityTrainer", "create_adaptive_block_sparse",
        "RingDilatedAttentionHilbertGPUOptimized", "DilatedAttention", "DilatedTransformerDecoderLayer",
        "DilatedTransformerEncoderLayer", "DistributedSparseConfig", "DistributedSparsePattern",
        "ImprovedDilatedAttention", "ImprovedMultiheadDilatedAttention", "LongNet",
        "MultiheadDilatedAttention", "PatternConfig", "PatternOptimizer", "PatternQualityAnalyzer",
        "PatternType", "SparsePatternConfig", "SparsePatternGenerator", "create_block_sparse_attention",
        "get_block_sparse_preset", "create_adaptive_block_sparse", "create_multihead_block_sparse",
        "create_dilated_attention", "create_multihead_dilated_attention", "DynamicDilatedAttention",
        "DynamicMultiheadDilatedAttention", "create_dynamic_dilated_attention", "DynamicSegmentSelector",
        "SegmentSelectionConfig",
    ),
    "dilated_attention_pytorch.base": (
        "DilatedAttention", "create_dilated_attention", "MultiheadDilatedAttention",
        "ImprovedDilatedAttention", "ImprovedMultiheadDilatedAttention",
        "DistributedMultiheadDilatedAttention", "HeadParallelDilatedAttentionOptimized",
    ),
    "dilated_attention_pytorch.core": (
        "BaseDilatedAttention", "BaseMultiheadDilatedAttention", "DilatedAttentionConfig", "MultiheadConfig",
        "RingAttentionConfig", "SparseAttentionConfig", "DistributedConfig", "MemoryPoolConfig",
        "ValidationMixin", "HAS_SDPA", "HAS_SDPA_KERNEL", "HAS_FLASH_ATTN", "HAS_FLASH_ATTN_3",
        "HAS_XFORMERS", "HAS_DEEPSPEED", "HAS_FAIRSCALE", "HAS_APEX", "TORCH_VERSION", "FLASH_ATTN_VERSION",
        "XFORMERS_VERSION", "DEEPSPEED_VERSION", "FAIRSCALE_VERSION", "APEX_VERSION", "GPU_TYPE",
        "CURRENT_OPTIMAL_SETTINGS", "SimplifiedMemoryPool", "UnifiedMemoryPool", "MemoryPool",
        "get_global_memory_pool", "reset_global_memory_pool", "PatternCache", "DilatedPatternCache",
        "get_global_pattern_cache", "clear_global_cache", "compute_attention_scores",
        "apply_dilated_attention_pattern", "create_dilated_mask", "create_block_diagonal_mask",
        "optimize_attention_computation", "standard_attention", "compute_alibi_bias",
        "compute_rotary_embeddings", "apply_rotary_embeddings", "merge_attention_heads",
        "split_attention_heads", "register_attention", "register_multihead_attention",
        "create_dilated_attention", "create_multihead_dilated_attention", "create_block_sparse_attention",
        "create_adaptive_sparse_attention", "get_optimized_pattern_cache", "clear_optimized_cache",
        "OptimizedPatternCache",
    ),
    "dilated_attention_pytorch.core.unified_memory_pool": (
        "SimplifiedMemoryPool", "MemoryPoolConfig", "get_global_memory_pool", "reset_global_memory_pool",
        "UnifiedMemoryPool", "MemoryPool",
    ),
    "dilated_attention_pytorch.kernels": (
        "HilbertAttentionCore", "HilbertAttentionFunction", "HilbertAttentionTritonWrapper",
        "HilbertAttentionTritonFixed",
    ),
    "dilated_attention_pytorch.models": (
        "DilatedTransformerEncoderLayer", "DilatedTransformerDecoderLayer", "LongNet",
    ),
    "dilated_attention_pytorch.ring": (
        "RingDilatedAttentionCorrect", "RingAttentionWrapper", "RingDilatedAttentionV3",
        "RingDilatedAttentionMemoryEfficient", "RingDilatedAttentionSDPA", "RingDilatedAttentionFixedSimple",
        "RingDistributedDilatedAttention", "RingDilatedAttentionHilbertCore",
        "RingDilatedAttentionHilbertOptimizedFixed", "RingDilatedAttentionHilbertProper",
        "RingDilatedAttentionHilbertGPUOptimized", "all_ring_pass", "split_by_rank", "RingAttentionFunction",
        "StableRingAccumulator", "memory_efficient_ring_attention", "RingDilatedAttention",
        "RingDilatedAttentionProduction",
    ),
    "dilated_attention_pytorch.ring.base": (
        "RingDilatedAttentionCorrect", "RingAttentionWrapper", "RingDilatedAttentionV3",
        "RingDilatedAttentionMemoryEfficient", "RingDilatedAttentionSDPA", "RingDilatedAttentionFixedSimple",
    ),
    "dilated_attention_pytorch.ring.distributed": (
        "RingDistributedDilatedAttention",
    ),
    "dilated_attention_pytorch.ring.hilbert": (
        "RingDilatedAttentionHilbertCore", "RingDilatedAttentionHilbertCoreFixed",
        "RingDilatedAttentionHilbertOptimizedFixed", "RingDilatedAttentionHilbertOptimizedFixedV2",
        "RingDilatedAttentionHilbertOptimizedCorrect", "RingDilatedAttentionHilbertProper",
        "RingDilatedAttentionHilbertGPUOptimized",
    ),
    "dilated_attention_pytorch.ring.utils": (
        "all_ring_pass", "split_by_rank", "RingCommunicator", "RingAttentionFunction", "ring_attention",
        "StableRingAccumulator", "memory_efficient_ring_attention",
    ),
    "dilated_attention_pytorch.ring.utils.ring_attention_lse": (
        "StableRingAccumulator", "ring_pass_lse", "update_lse", "compute_lse_triton", "compute_lse",
        "compute_attention_with_lse",
    ),
    "dilated_attention_pytorch.ring.utils.ring_attention_utils": (
        "exists", "all_ring_pass", "split_by_rank", "create_causal_mask",
    ),
    "dilated_attention_pytorch.ring.utils.ring_attention_utils_fixed": (
        "safe_ring_pass", "safe_ring_pass_kv", "validate_tensor_for_ring_pass", "create_ring_groups",
        "get_memory_info", "RingCommunicator", "all_ring_pass",
    ),
    "dilated_attention_pytorch.sparse": (
        "BlockSparseRingDilatedAttention", "BlockSparseRingDilatedAttentionFixed",
        "BlockSparseRingDilatedAttentionHilbertPostPattern", "BlockSparseRingMultiheadDilatedAttention",
        "BlockSparseRingDistributedDilatedAttention", "BlockSparseAdaptive", "BlockSparseAdaptiveFixed",
        "AdaptiveConfig", "AdaptiveSparsityTrainer", "SparsePatternConfig", "create_block_sparse_attention",
        "create_multihead_block_sparse", "create_adaptive_block_sparse",
    ),
    "dilated_attention_pytorch.sparse.block_sparse_ring_distributed_dilated_attention": (
        "BlockSparseRingDistributedDilatedAttention", "DistributedSparseConfig", "DistributedSparsePattern",
        "GradientCompressor", "HierarchicalSparsePatternGenerator",
    ),
    "dilated_attention_pytorch.sparse.distributed_memory_optimization": (
        "AdaptiveMemoryPool", "OptimizedGradientCommunicator", "GradientCompressor",
    ),
    "dilated_attention_pytorch.sparse.distributed_sparse_config": (
        "DistributedSparsePattern", "DistributedSparseConfig", "HAS_DEEPSPEED", "HAS_APEX",
    ),
    "dilated_attention_pytorch.sparse.sparse_pattern_generator": (
        "HierarchicalSparsePatternGenerator",
    ),
    "dilated_attention_pytorch.utils": (
        "ValidationMixin", "optimize_attention_computation", "create_4d_causal_mask",
        "apply_head_specific_masks", "merge_attention_heads", "split_attention_heads",
        "compute_position_embeddings", "get_attention_backend_info", "PatternType", "SparsePatternGenerator",
        "PatternQualityAnalyzer", "PatternOptimizer", "PatternVisualizer", "save_sparse_pattern",
        "load_sparse_pattern", "analyze_pattern_statistics", "optimize_pattern_for_hardware",
        "get_gpu_compute_capability", "is_pascal_or_older", "get_optimal_dtype", "warn_suboptimal_dtype",
        "GPUInfo", "GPUDetector", "get_gpu_info", "select_gpu_attention_backend",
        "benchmark_attention_backends", "get_flash_attention_support", "select_attention_backend",
        "flash_attention_forward", "chunked_flash_attention",
    ),
    "dilated_attention_pytorch.utils.sparse_pattern_utils": (
        "PatternConfig", "PatternOptimizer", "PatternQualityAnalyzer", "PatternQualityMetrics", "PatternType",
        "PatternVisualizer", "SparsePatternGenerator",
    ),
}
