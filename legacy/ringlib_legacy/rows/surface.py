"""Registry rows for the last 0.2 names the surface snapshot (tests/legacy/recordings/surface.json)
found missing: the ``sparse.distributed_memory_optimization`` helpers and
``core.create_adaptive_sparse_attention`` (``OptimizedGradientCommunicator`` is removed:
``ringlib_legacy.removed``)."""

from __future__ import annotations

from ringlib_legacy.schema import Divergence, LegacyName

ROWS: tuple[LegacyName, ...] = (
    LegacyName(
        name="AdaptiveMemoryPool",
        kind="class",
        family="sparse",
        numerics="preserve",
        profile="backing: a dict of returned buffers over PyTorch's caching allocator",
        replacement="torch.empty (PyTorch's caching allocator)",
        paths=("dilated_attention_pytorch.sparse.distributed_memory_optimization.AdaptiveMemoryPool",),
        counted=False,
    ),
    LegacyName(
        name="GradientCompressor",
        kind="class",
        family="sparse",
        numerics="preserve",
        profile="top-k / random-k / threshold sparsification with error feedback",
        replacement="torch.distributed.algorithms.ddp_comm_hooks (e.g. powerSGD_hook)",
        paths=(
            "dilated_attention_pytorch.sparse.distributed_memory_optimization.GradientCompressor",
            "dilated_attention_pytorch.sparse.block_sparse_ring_distributed_dilated_attention.GradientCompressor",
            "dilated_attention_pytorch.block_sparse_ring_distributed_dilated_attention.GradientCompressor",
        ),
        counted=False,
    ),
    LegacyName(
        name="create_adaptive_sparse_attention",
        kind="function",
        family="sparse",
        numerics="intended",
        profile="BlockSparseAdaptive keeping 1 - max_sparsity of the blocks",
        replacement="ringlib.AdaptiveBlockSparseAttention",
        paths=(
            "dilated_attention_pytorch.core.create_adaptive_sparse_attention",
            "dilated_attention_pytorch.core.factory.create_adaptive_sparse_attention",
        ),
        divergences=(
            Divergence(
                what="0.2 raised ValueError (unknown attention type 'block_sparse_ring'); the shim builds the "
                "adaptive block-sparse module",
                measured="old: ValueError",
            ),
        ),
        counted=False,
    ),
)
