"""``BlockSparseRingDistributedDilatedAttention`` and the old hierarchical
pattern generator: exact row-softmax block-sparse attention over the HIERARCHICAL
mask, drawn from a private generator seeded by the ``pattern_seed`` buffer."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Dict, Optional

import torch
import torch.distributed as dist

import ringlib
from ringlib.blocksparse import hierarchical, hierarchical_levels

from .common import cuda_if_available
from .configs import DistributedSparseConfig
from .distributed import RingDistributedDilatedAttention

Tensor = torch.Tensor


class BlockSparseRingDistributedDilatedAttention(RingDistributedDilatedAttention):
    """q, k, v ``(B, L, H, D)``; the parent's ``attention_core`` weights exist but are unused."""

    def __init__(self, embed_dim: int, num_heads: int, segment_lengths: Sequence[int],
                 dilation_rates: Sequence[int], distributed_config: DistributedSparseConfig | None = None,
                 enable_deepspeed_integration: bool = True, enable_apex_optimization: bool = True,
                 monitoring_interval: int = 100, *, pattern_seed: Optional[int] = None, **kwargs):
        super().__init__(embed_dim, num_heads, segment_lengths, dilation_rates, **kwargs)
        self.distributed_config = distributed_config or DistributedSparseConfig()
        self.enable_deepspeed_integration = enable_deepspeed_integration
        self.enable_apex_optimization = enable_apex_optimization
        self.monitoring_interval = monitoring_interval
        seed_given = pattern_seed is not None
        if pattern_seed is None:
            pattern_seed = int(torch.randint(0, 2 ** 62, ()))
        self.register_buffer("pattern_seed", torch.tensor(pattern_seed, dtype=torch.int64))
        self._seed_shared = seed_given
        self.backend = "auto"  # the ringlib backend of forward (as on the other block-sparse classes)

    def block_pattern(self) -> ringlib.BlockSparse:
        c = self.distributed_config
        if not self._seed_shared and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.broadcast(self.pattern_seed, src=0)  # every rank uses rank 0's seed
            self._seed_shared = True
        layout = hierarchical(int(self.pattern_seed), c.local_sparsity, c.global_sparsity, c.inter_node_sparsity)
        return ringlib.BlockSparse(layout, block_size=c.block_size)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, is_causal: bool = False,
                return_attention_weights: bool = False):
        bs = self.distributed_config.block_size
        if q.shape[1] % bs:
            raise ValueError(f"Sequence length {q.shape[1]} must be divisible by block size {bs}")
        pattern = self.block_pattern()
        out = ringlib.attention(q, k, v, pattern, causal=is_causal, backend=self.backend)
        if not return_attention_weights:
            return out
        return out, _dense_weights(q, k, pattern, is_causal)


def _dense_weights(q: Tensor, k: Tensor, pattern: ringlib.BlockSparse, causal: bool) -> Tensor:
    """Row-softmax probabilities ``(B, H, L, L)`` (O(L^2) memory, as the old API promised)."""
    b, n, h, d = q.shape
    bs = pattern.block_size
    counts = pattern.counts(n // bs, h).to(q.device) > 0
    allowed = counts.repeat_interleave(bs, -2).repeat_interleave(bs, -1)  # (1 or H, L, L)
    if causal:
        allowed = allowed & torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) * d ** -0.5
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.nan_to_num(torch.softmax(scores, -1), nan=0.0)


class HierarchicalSparsePatternGenerator:
    """The old generator: LOCAL / GLOBAL / INTER masks from the global RNG."""

    def __init__(self, config: DistributedSparseConfig, world_size: int, rank: int):
        self.config, self.world_size, self.rank = config, world_size, rank
        node = os.environ.get("LOCAL_WORLD_SIZE") or os.environ.get("OMPI_COMM_WORLD_LOCAL_SIZE")
        self.node_size = int(node) if node else min(8, world_size)
        self.node_rank, self.local_rank = rank // self.node_size, rank % self.node_size
        self.local_patterns: dict = {}
        self.global_patterns: dict = {}
        self.inter_node_patterns: dict = {}
        self.load_stats: Dict[str, list] = {"computation_time": [], "communication_volume": [], "memory_usage": []}

    def create_hierarchical_pattern(self, seq_len: int, num_heads: int) -> Dict[str, Tensor]:
        c = self.config
        nb = seq_len // c.block_size
        key = (nb, num_heads, c.local_sparsity, c.global_sparsity, c.inter_node_sparsity)
        if key not in self.local_patterns:
            levels = hierarchical_levels(nb, num_heads, c.block_size, c.local_sparsity, c.global_sparsity,
                                         c.inter_node_sparsity, None)
            device = cuda_if_available()
            self.local_patterns[key] = levels["local"].to(device)
            self.global_patterns[key] = levels["global"].to(device)
            self.inter_node_patterns[key] = levels["inter_node"].to(device)
        return {"local": self.local_patterns[key], "global": self.global_patterns[key],
                "inter_node": self.inter_node_patterns[key]}

    def update_load_stats(self, computation_time: float, communication_volume: float, memory_usage: float) -> None:
        for name, value in (("computation_time", computation_time), ("communication_volume", communication_volume),
                            ("memory_usage", memory_usage)):
            self.load_stats[name] = (self.load_stats[name] + [value])[-50:]
