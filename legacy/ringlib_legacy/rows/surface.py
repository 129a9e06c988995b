"""Registry rows for the last 0.2 names the surface snapshot (tests/legacy/recordings/surface.json)
found missing: the ``sparse.distributed_memory_optimization`` helpers and
``core.create_adaptive_sparse_attention`` (``OptimizedGradientCommunicator`` is removed:
``ringlib_legacy.removed``)."""

from __future__ import annotations

from ringlib_legacy.schema import Divergence, LegacyName

_DMO = "dilated_attention_pytorch.sparse.distributed_memory_optimization"
_BSRD = "dilated_attention_pytorch.sparse.block_sparse_ring_distributed_dilated_attention"

ROWS: list[LegacyName] = [
    LegacyName(name="AdaptiveMemoryPool", key="AdaptiveMemoryPool", kind="class", family="sparse",
               paths=(f"{_DMO}.AdaptiveMemoryPool",), numerics="preserve",
               profile="backing: a dict of returned buffers over PyTorch's caching allocator",
               replacement="torch.empty (PyTorch's caching allocator)", counted=False),
    LegacyName(name="GradientCompressor", key="GradientCompressor", kind="class", family="sparse",
               paths=(f"{_DMO}.GradientCompressor", f"{_BSRD}.GradientCompressor"), numerics="preserve",
               profile="top-k / random-k / threshold sparsification with error feedback",
               replacement="torch.distributed.algorithms.ddp_comm_hooks (e.g. powerSGD_hook)", counted=False),
    LegacyName(name="create_adaptive_sparse_attention", key="create_adaptive_sparse_attention", kind="function",
               family="sparse", paths=("dilated_attention_pytorch.core.create_adaptive_sparse_attention",
                                       "dilated_attention_pytorch.core.factory.create_adaptive_sparse_attention"),
               numerics="intended", profile="BlockSparseAdaptive keeping 1 - max_sparsity of the blocks",
               replacement="ringlib.AdaptiveBlockSparseAttention", counted=False,
               divergences=(Divergence(what="0.2 raised ValueError (unknown attention type 'block_sparse_ring'); "
                                            "the shim builds the adaptive block-sparse module",
                                       measured="old: ValueError"),)),
]
