"""Old public names and modules that the shim does not carry over (importing them fails clearly)."""

from __future__ import annotations

from ringlib_legacy.schema import Removed

REMOVED: tuple[Removed, ...] = (
    Removed(path="dilated_attention_pytorch.sparse.distributed_memory_optimization.OptimizedGradientCommunicator",
            use_instead="torch.nn.parallel.DistributedDataParallel with a torch.distributed.algorithms."
                        "ddp_comm_hooks hook (bucketing and compression of gradients are DDP's job, not "
                        "an attention library's)"),
    Removed(
        path="dilated_attention_pytorch.DistributedImprovedDilatedAttention",
        use_instead="ringlib.DilatedAttention(ringlib.Dilated(...)) with ringlib.attention(..., group=...)",
    ),
    Removed(
        path="dilated_attention_pytorch.DistributedImprovedMultiheadDilatedAttention",
        use_instead="ringlib.MultiheadDilatedAttention with ringlib.attention(..., group=...)",
    ),
    Removed(
        path="dilated_attention_pytorch.BlockSparseOptimized",
        use_instead="ringlib.DilatedAttention(ringlib.BlockSparse(...))",
    ),
    Removed(
        path="dilated_attention_pytorch.BlockSparseTorchSparse",
        use_instead="ringlib.DilatedAttention(ringlib.BlockSparse(...))",
    ),
    Removed(
        path="dilated_attention_pytorch.RingDilatedAttentionV2",
        use_instead="ringlib.MultiheadDilatedAttention(..., ringlib.Dilated(...)) and ringlib.attention(..., group=...)",
    ),
    Removed(
        path="dilated_attention_pytorch.RingAttentionConfig",
        use_instead="ringlib.MultiheadDilatedAttention arguments",
    ),
    Removed(
        path="dilated_attention_pytorch.create_production_ring_attention",
        use_instead="ringlib.MultiheadDilatedAttention",
    ),
    Removed(
        path="dilated_attention_pytorch.create_adaptive_sparse_attention",
        use_instead="ringlib.AdaptiveBlockSparseAttention",
    ),
    Removed(
        path="dilated_attention_pytorch.RingDilatedAttention",
        use_instead="dilated_attention_pytorch.ring.RingDilatedAttention (only there) or ringlib.MultiheadDilatedAttention",
    ),
    Removed(
        path="dilated_attention_pytorch.RingDilatedAttentionProduction",
        use_instead="dilated_attention_pytorch.ring.RingDilatedAttentionProduction (only there) or ringlib.MultiheadDilatedAttention",
    ),
    Removed(
        path="dilated_attention_pytorch.ring_dilated_attention_v2_collective",
        use_instead="ringlib.MultiheadDilatedAttention with group=",
        kind="module",
    ),
    Removed(
        path="dilated_attention_pytorch.ring_dilated_attention_production",
        use_instead="dilated_attention_pytorch.ring.RingDilatedAttentionProduction",
        kind="module",
    ),
    Removed(
        path="dilated_attention_pytorch.ring_dilated_attention_v2",
        use_instead="ringlib.MultiheadDilatedAttention",
        kind="module",
    ),
    Removed(
        path="dilated_attention_pytorch.improved_dilated_attention_v2",
        use_instead="ringlib.DilatedAttention(ringlib.Dilated(...))",
        kind="module",
    ),
)
#: Prefixes of flat module names removed before 0.2 (e.g. ``ring_dilated_attention_hybrid_*``).
REMOVED_MODULE_PREFIXES: tuple[str, ...] = (
    "dilated_attention_pytorch.ring_dilated_attention_hybrid",
    "dilated_attention_pytorch.ring_dilated_attention_v2",
    "dilated_attention_pytorch.improved_",
    "dilated_attention_pytorch.ring_multihead_dilated_attention",
    "dilated_attention_pytorch.head_parallel_dilated_attention",
)
