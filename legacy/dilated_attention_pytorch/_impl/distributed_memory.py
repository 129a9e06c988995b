"""The old ``sparse.distributed_memory_optimization`` helpers, on the simplest correct backing:
a buffer pool over plain dictionaries (PyTorch's allocator does the real caching) and top-k /
random-k / threshold gradient sparsification with error feedback, in plain tensor ops."""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Tuple

import torch

Tensor = torch.Tensor


class AdaptiveMemoryPool:
    """Returned buffers are reused for the next request of the same shape, dtype and pinning."""

    def __init__(self, device: torch.device, enable_pinned: bool = True):
        self.device = torch.device(device)
        self.enable_pinned = enable_pinned
        self._free: Dict[tuple, List[Tensor]] = defaultdict(list)
        self._stats = {"allocations": 0, "reuses": 0, "returns": 0}

    def get_buffer(self, shape: tuple, dtype: torch.dtype, pinned: bool = False) -> Tensor:
        pinned = pinned and self.enable_pinned and torch.cuda.is_available()
        key = (tuple(shape), dtype, pinned)
        if self._free[key]:
            self._stats["reuses"] += 1
            return self._free[key].pop()
        self._stats["allocations"] += 1
        if pinned:
            return torch.empty(shape, dtype=dtype, pin_memory=True)
        return torch.empty(shape, dtype=dtype, device=self.device)

    def return_buffer(self, buffer: Tensor, pinned: bool = False) -> None:
        self._stats["returns"] += 1
        self._free[(tuple(buffer.shape), buffer.dtype, pinned and buffer.is_pinned())].append(buffer)

    def clear_unused_buffers(self, threshold: int = 100) -> None:
        """Drops every pooled buffer once more than ``threshold`` are held."""
        if sum(len(b) for b in self._free.values()) > threshold:
            self._free.clear()

    def get_stats(self) -> Dict[str, int]:
        return {**self._stats, "total_buffers": sum(len(b) for b in self._free.values()), "hot_keys": 0}


class GradientCompressor:
    """Keeps a ``compression_ratio`` fraction of each gradient; what is left out is added back
    to that parameter's next gradient (error feedback)."""

    def __init__(self, compression_ratio: float = 0.1, algorithm: str = "topk"):
        if not 0.0 < compression_ratio <= 1.0:
            raise ValueError(f"compression_ratio must be in (0, 1], got {compression_ratio!r}")
        if algorithm not in ("topk", "randomk", "threshold"):
            raise ValueError(f"algorithm must be 'topk', 'randomk' or 'threshold', got {algorithm!r}")
        self.compression_ratio = compression_ratio
        self.algorithm = algorithm
        self.error_feedback: Dict[str, Tensor] = {}

    def compress(self, grad: Tensor, name: str) -> Tuple[Tensor, Tensor]:
        """Kept values and their flat indices."""
        if name in self.error_feedback:
            grad = grad + self.error_feedback[name]
        flat = grad.flatten()
        k = max(1, int(flat.numel() * self.compression_ratio))
        if self.algorithm == "topk":
            indices = torch.topk(flat.abs(), k).indices
        elif self.algorithm == "randomk":
            indices = torch.randperm(flat.numel(), device=flat.device)[:k]
        else:  # the k-th largest magnitude as the threshold
            indices = torch.nonzero(flat.abs() >= torch.topk(flat.abs(), k).values[-1]).flatten()
        values = flat[indices]
        kept = torch.zeros_like(flat).index_copy_(0, indices, values)
        self.error_feedback[name] = (flat - kept).reshape(grad.shape)
        return values, indices

    def decompress(self, values: Tensor, indices: Tensor, shape: torch.Size) -> Tensor:
        flat = torch.zeros(torch.Size(shape).numel(), dtype=values.dtype, device=values.device)
        return flat.index_copy_(0, indices, values).reshape(shape)


def create_adaptive_sparse_attention(embed_dim: int = 768, num_heads: int = 12, min_sparsity: float = 0.1,
                                     max_sparsity: float = 0.9, **kwargs):
    """``core.create_adaptive_sparse_attention`` (it raised ValueError in 0.2): the adaptive
    block-sparse module keeping ``1 - max_sparsity`` of the blocks per head."""
    from .adaptive import create_adaptive_block_sparse
    from .common import warn_ignored
    from .configs import AdaptiveConfig

    if not 0.0 <= min_sparsity <= max_sparsity < 1.0:
        raise ValueError(f"need 0 <= min_sparsity <= max_sparsity < 1, got {min_sparsity!r}, {max_sparsity!r}")
    if min_sparsity != 0.1:
        warn_ignored("min_sparsity (the adaptive selector keeps a fixed fraction, 1 - max_sparsity)")
    return create_adaptive_block_sparse(embed_dim, num_heads, adaptive_config=AdaptiveConfig(base_sparsity=max_sparsity),
                                        **kwargs)
