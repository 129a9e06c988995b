"""``core`` infrastructure of 0.2 kept importable with its API, backed by the simplest
correct thing.

Every memory pool hands out tensors from PyTorch's own caching allocator (``torch.empty``)
and, where the old API had ``deallocate``, keeps returned tensors in a plain dict keyed by
``(shape, dtype, device)`` for reuse. Pattern caches are dicts. NUMA topology is read from
``/sys/devices/system/node`` (Linux; one node elsewhere) and never pins memory or threads:
placement is left to the allocator and the OS. Profilers record events in lists; the
dashboard is a self-contained HTML table. None of these change what attention computes.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import os
import threading
import time
from collections import OrderedDict, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import torch

from .utils import ValidationMixin

Tensor = torch.Tensor
_MB = 1024 * 1024


def _default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# ---- core.config ----------------------------------------------------------------------------

def _device_dtype(config) -> None:
    config.device = torch.device(config.device) if config.device is not None else _default_device()
    if config.dtype is None:
        config.dtype = torch.float32


@dataclass
class DilatedAttentionConfig(ValidationMixin):
    """Segment lengths, dilation rates and dropout of a dilated attention module."""

    segment_lengths: list[int]
    dilation_rates: list[int]
    dropout: float = 0.0
    use_tf32: bool = True
    device: torch.device | str | None = None
    dtype: torch.dtype | None = None

    def __post_init__(self) -> None:
        self.validate_segment_dilation_match(self.segment_lengths, self.dilation_rates)
        self.validate_positive_values(self.segment_lengths, "segment_lengths")
        self.validate_positive_values(self.dilation_rates, "dilation_rates")
        self.validate_dropout_prob(self.dropout)
        _device_dtype(self)

    @property
    def num_groups(self) -> int:
        return len(self.segment_lengths)

    @property
    def max_segment_length(self) -> int:
        return max(self.segment_lengths)


@dataclass
class MultiheadConfig(ValidationMixin):
    """Width, heads and layer-norm settings of a multihead module; sets ``head_dim``."""

    embed_dim: int
    num_heads: int
    bias: bool = True
    layer_norm: bool = True
    layer_norm_eps: float = 1e-5
    gamma_init: float = 1.0
    device: torch.device | str | None = None
    dtype: torch.dtype | None = None

    def __post_init__(self) -> None:
        if self.embed_dim <= 0:
            raise ValueError(f"embed_dim must be positive, got {self.embed_dim}")
        self.head_dim = self.validate_head_dim(self.embed_dim, self.num_heads)
        if self.layer_norm_eps <= 0:
            raise ValueError(f"layer_norm_eps must be positive, got {self.layer_norm_eps}")
        if self.gamma_init <= 0:
            raise ValueError(f"gamma_init must be positive, got {self.gamma_init}")
        _device_dtype(self)


@dataclass
class RingAttentionConfig(DilatedAttentionConfig):
    block_size: int = 1024
    ring_size: int | None = None
    use_checkpointing: bool = True
    use_memory_pool: bool = True
    max_cached_buffers: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.block_size <= 0:
            raise ValueError(f"block_size must be positive, got {self.block_size}")
        if self.ring_size is not None and self.ring_size <= 0:
            raise ValueError(f"ring_size must be positive, got {self.ring_size}")
        if self.max_cached_buffers < 0:
            raise ValueError(f"max_cached_buffers must be non-negative, got {self.max_cached_buffers}")


_SPARSE_PATTERNS = ("dilated_sparse", "local_window", "global_local", "axial", "random", "learned", "hybrid")


@dataclass
class SparseAttentionConfig(DilatedAttentionConfig):
    pattern_type: str = "dilated_sparse"
    sparsity_ratio: float = 0.25
    block_size: int = 128
    enable_adaptive: bool = False
    min_sparsity: float = 0.1
    max_sparsity: float = 0.9

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pattern_type not in _SPARSE_PATTERNS:
            raise ValueError(f"Invalid pattern_type '{self.pattern_type}'. Must be one of: {set(_SPARSE_PATTERNS)}")
        for name in ("sparsity_ratio", "min_sparsity", "max_sparsity"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.min_sparsity >= self.max_sparsity:
            raise ValueError(f"min_sparsity ({self.min_sparsity}) must be less than max_sparsity ({self.max_sparsity})")
        if self.block_size <= 0:
            raise ValueError(f"block_size must be positive, got {self.block_size}")


@dataclass
class DistributedConfig:
    world_size: int | None = None
    rank: int | None = None
    backend: str = "nccl"
    sequence_parallel: bool = False
    model_parallel: bool = False
    pipeline_parallel: bool = False
    gradient_checkpointing: bool = False
    communication_optimization: bool = True
    bucket_size_mb: int = 25
    enable_async_communication: bool = True
    gradient_compression_ratio: float | None = None
    zero_stage: int = 0

    def __post_init__(self) -> None:
        if self.backend not in ("nccl", "gloo", "mpi"):
            raise ValueError(f"backend must be 'nccl', 'gloo' or 'mpi', got {self.backend!r}")
        if self.world_size is not None and self.world_size <= 0:
            raise ValueError(f"world_size must be positive, got {self.world_size}")
        if self.rank is not None:
            if self.rank < 0:
                raise ValueError(f"rank must be non-negative, got {self.rank}")
            if self.world_size is not None and self.rank >= self.world_size:
                raise ValueError(f"rank ({self.rank}) must be less than world_size ({self.world_size})")
        if self.bucket_size_mb <= 0:
            raise ValueError(f"bucket_size_mb must be positive, got {self.bucket_size_mb}")
        ratio = self.gradient_compression_ratio
        if ratio is not None and not 0.0 < ratio <= 1.0:
            raise ValueError(f"gradient_compression_ratio must be in (0, 1], got {ratio}")
        if self.zero_stage not in (0, 1, 2, 3):
            raise ValueError(f"zero_stage must be 0, 1, 2, or 3, got {self.zero_stage}")


@dataclass
class MemoryPoolConfig:
    """``core.config.MemoryPoolConfig`` (of ``core.memory_pool.UnifiedMemoryPool``)."""

    hot_cache_size: int = 50
    hot_cache_threshold: int = 10
    allow_buffer_slicing: bool = True
    cleanup_threshold_mb: int = 100
    max_pool_size_mb: int = 1024
    enable_statistics: bool = True
    device: torch.device | str | None = None

    def __post_init__(self) -> None:
        for name in ("hot_cache_size", "hot_cache_threshold", "cleanup_threshold_mb", "max_pool_size_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        self.device = torch.device(self.device) if self.device is not None else _default_device()


@dataclass
class SimpleMemoryPoolConfig:
    """``core.unified_memory_pool.MemoryPoolConfig`` (of ``SimplifiedMemoryPool``)."""

    enable_bucketing: bool = True
    enable_numa_awareness: bool = False
    enable_fragmentation_tracking: bool = False
    enable_profiling: bool = False
    max_cached_tensors: int = 100
    cleanup_threshold_mb: float = 100.0
    fragmentation_threshold: float = 0.3
    bucket_sizes_mb: List[float] = None  # type: ignore[assignment]
    adaptive_buckets: bool = True
    device: Optional[torch.device] = None

    def __post_init__(self):
        if self.bucket_sizes_mb is None:
            self.bucket_sizes_mb = [0.1, 0.5, 1, 2, 4, 8, 16, 32, 64, 128]
        if self.device is None:
            self.device = _default_device()


# ---- the one tensor cache behind every pool -------------------------------------------------

class _TensorCache:
    """Freed tensors kept for reuse, keyed by ``(shape, dtype, device)``; new ones come from
    ``torch.empty`` (PyTorch's caching allocator)."""

    def __init__(self, max_cached: int = 100):
        self._free: Dict[tuple, List[Tensor]] = defaultdict(list)
        self._max_cached = max_cached
        self._lock = threading.RLock()
        self._stats = {"allocations": 0, "deallocations": 0, "reuses": 0, "cleanups": 0,
                       "current_allocated_mb": 0.0, "peak_allocated_mb": 0.0}

    @staticmethod
    def _key(shape, dtype, device) -> tuple:
        return tuple(int(s) for s in shape), dtype, torch.device(device)

    def _take(self, shape, dtype=torch.float32, device=None, pin_memory: bool = False) -> Tensor:
        device = torch.device(device) if device is not None else _default_device()
        key = self._key(shape, dtype, device)
        with self._lock:
            self._stats["allocations"] += 1
            if self._free.get(key):
                self._stats["reuses"] += 1
                return self._free[key].pop()
        pin = pin_memory and device.type == "cpu" and torch.cuda.is_available()
        tensor = torch.empty(key[0], dtype=dtype, device=device, pin_memory=pin)
        with self._lock:
            self._stats["current_allocated_mb"] += tensor.numel() * tensor.element_size() / _MB
            self._stats["peak_allocated_mb"] = max(self._stats["peak_allocated_mb"], self._stats["current_allocated_mb"])
        return tensor

    def _give(self, tensor: Tensor) -> None:
        with self._lock:
            self._stats["deallocations"] += 1
            cached = sum(len(v) for v in self._free.values())
            if cached < self._max_cached:
                self._free[self._key(tensor.shape, tensor.dtype, tensor.device)].append(tensor)
            else:
                self._stats["current_allocated_mb"] -= tensor.numel() * tensor.element_size() / _MB

    def _cached_count(self) -> int:
        return sum(len(v) for v in self._free.values())

    def _cached_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for v in self._free.values() for t in v)

    def _clear(self) -> None:
        with self._lock:
            self._free.clear()
            self._stats["cleanups"] += 1
            self._stats["current_allocated_mb"] = 0.0
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


# ---- core.unified_memory_pool ---------------------------------------------------------------

class SimplifiedMemoryPool(_TensorCache):
    """``allocate(size, dtype, device)`` / ``deallocate(tensor)`` over PyTorch's allocator."""

    def __init__(self, config: Optional[SimpleMemoryPoolConfig] = None):
        self.config = config or SimpleMemoryPoolConfig()
        super().__init__(self.config.max_cached_tensors)

    def allocate(self, size, dtype: torch.dtype = torch.float32, device: Optional[torch.device] = None) -> Tensor:
        return self._take(size, dtype, device if device is not None else self.config.device)

    def deallocate(self, tensor: Tensor) -> None:
        self._give(tensor)

    def get_stats(self) -> Dict[str, Any]:
        with self._lock:
            return {**self._stats, "cached_tensors": self._cached_count()}

    def reset(self) -> None:
        self._clear()
        with self._lock:
            self._stats.update(allocations=0, deallocations=0, reuses=0, cleanups=0, current_allocated_mb=0.0,
                               peak_allocated_mb=0.0)


_GLOBALS: Dict[str, Any] = {}
_GLOBALS_LOCK = threading.Lock()


def _global(name: str, factory):
    with _GLOBALS_LOCK:
        if name not in _GLOBALS:
            _GLOBALS[name] = factory()
        return _GLOBALS[name]


def _reset_global(name: str) -> None:
    with _GLOBALS_LOCK:
        obj = _GLOBALS.pop(name, None)
    clear = getattr(obj, "reset", None) or getattr(obj, "clear", None)
    if clear is not None:
        clear()


def get_global_memory_pool(config: Optional[SimpleMemoryPoolConfig] = None) -> SimplifiedMemoryPool:
    return _global("simplified", lambda: SimplifiedMemoryPool(config))


def reset_global_memory_pool() -> None:
    _reset_global("simplified")


# ---- core.memory_pool -----------------------------------------------------------------------

@dataclass
class BufferStats:
    shape: tuple
    dtype: torch.dtype
    device: torch.device
    access_count: int = 0
    last_access_time: float = 0.0
    pinned: bool = False
    size_bytes: int = 0
    fragmentation_score: float = 0.0
    size_bucket: int = 0


@dataclass
class MemoryFragment:
    size_bytes: int
    device: torch.device
    dtype: torch.dtype
    is_free: bool = True
    allocation_time: float = 0.0
    last_access_time: float = 0.0


class UnifiedMemoryPool(_TensorCache):
    """``core.memory_pool.UnifiedMemoryPool``: ``get_buffer(shape, ...)`` returns a tensor of
    that shape (reused per ``pool_type`` when one was handed out before and not in use)."""

    def __init__(self, config: MemoryPoolConfig | None = None):
        self.config = config or MemoryPoolConfig()
        super().__init__(self.config.hot_cache_size)
        self._pools: Dict[str, Dict[tuple, Tensor]] = defaultdict(dict)
        self._buffer_stats: Dict[tuple, BufferStats] = {}

    def get_buffer(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32,
                   device: torch.device | None = None, pinned: bool = False, pool_type: str = "default") -> Tensor:
        device = torch.device(device) if device is not None else self.config.device
        key = self._key(shape, dtype, device)
        with self._lock:
            buffer = self._pools[pool_type].get(key)
            if buffer is None:
                buffer = self._take(shape, dtype, device, pin_memory=pinned)
                self._pools[pool_type][key] = buffer
                self._buffer_stats[(pool_type, *key)] = BufferStats(
                    key[0], dtype, device, pinned=pinned, size_bytes=buffer.numel() * buffer.element_size())
            stats = self._buffer_stats[(pool_type, *key)]
            stats.access_count += 1
            stats.last_access_time = time.time()
            return buffer

    def clear_pool(self, pool_type: str | None = None) -> None:
        with self._lock:
            for name in [pool_type] if pool_type is not None else list(self._pools):
                self._pools.pop(name, None)
                for key in [k for k in self._buffer_stats if k[0] == name]:
                    del self._buffer_stats[key]
        if pool_type is None:
            self._clear()

    def get_stats(self) -> dict[str, Any]:
        with self._lock:
            return {"total_buffers": sum(len(p) for p in self._pools.values()),
                    "pool_sizes": {n: len(p) for n, p in self._pools.items()},
                    "memory_by_pool": {n: sum(t.numel() * t.element_size() for t in p.values())
                                       for n, p in self._pools.items()},
                    **self._stats}

    def defragment_all_devices(self) -> dict[str, bool]:
        """Nothing to compact: PyTorch's allocator owns the memory; empties its cache on CUDA."""
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return {str(d): True for d in {k[3] for k in self._buffer_stats}}

    def get_fragmentation_report(self) -> str:
        return _allocator_report("UnifiedMemoryPool", self.get_stats())


def _allocator_report(title: str, stats: Dict[str, Any]) -> str:
    lines = [f"{title} (backed by PyTorch's caching allocator)"]
    lines += [f"  {k}: {v}" for k, v in stats.items()]
    if torch.cuda.is_available():
        lines.append(f"  cuda allocated MB: {torch.cuda.memory_allocated() / _MB:.1f}, "
                     f"reserved MB: {torch.cuda.memory_reserved() / _MB:.1f}")
    return "\n".join(lines)


def get_unified_memory_pool(config: MemoryPoolConfig | None = None) -> UnifiedMemoryPool:
    """``core.memory_pool.get_global_memory_pool``."""
    return _global("unified", lambda: UnifiedMemoryPool(config))


def reset_unified_memory_pool() -> None:
    """``core.memory_pool.reset_global_memory_pool``."""
    _reset_global("unified")


# ---- core.bucketed_memory_pool --------------------------------------------------------------

@dataclass
class BucketConfig:
    size: int
    initial_count: int = 4
    max_count: int = 32
    growth_factor: float = 2.0

    @property
    def name(self) -> str:
        return f"bucket_{self.size // 1024}KB" if self.size < _MB else f"bucket_{self.size // _MB}MB"


class MemoryBucket(_TensorCache):
    """Tensors of at most ``config.size`` bytes, kept up to ``config.max_count``."""

    def __init__(self, config: BucketConfig):
        self.config = config
        super().__init__(config.max_count)

    def allocate(self, shape: Tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Optional[Tensor]:
        nbytes = torch.Size(shape).numel() * torch.empty((), dtype=dtype).element_size()
        return self._take(shape, dtype, device) if nbytes <= self.config.size else None

    def deallocate(self, tensor: Tensor) -> bool:
        if tensor.numel() * tensor.element_size() > self.config.size:
            return False
        self._give(tensor)
        return True

    def clear(self) -> None:
        self._clear()

    def get_stats(self) -> Dict[str, Any]:
        return {"size": self.config.size, "cached": self._cached_count(), **self._stats}


_DEFAULT_BUCKETS = [1024 * 2 ** i for i in range(0, 21, 2)]  # 1 KB .. 1 GB


class BucketedMemoryPool:
    """Requests go to the smallest bucket that fits (larger ones straight to the allocator)."""

    def __init__(self, bucket_sizes: Optional[List[int]] = None, enable_statistics: bool = True,
                 adaptive_buckets: bool = True):
        self.buckets = {s: MemoryBucket(BucketConfig(s)) for s in sorted(bucket_sizes or _DEFAULT_BUCKETS)}
        self.enable_statistics = enable_statistics
        self.adaptive_buckets = adaptive_buckets
        self._large = _TensorCache(0)

    def _bucket(self, size: int) -> Optional[MemoryBucket]:
        return next((b for s, b in self.buckets.items() if size <= s), None)

    def allocate(self, size: int, dtype: torch.dtype, device: torch.device,
                 shape: Optional[Tuple[int, ...]] = None) -> Tensor:
        shape = shape or (size // torch.empty((), dtype=dtype).element_size(),)
        bucket = self._bucket(size)
        return bucket.allocate(shape, dtype, device) if bucket is not None else self._large._take(shape, dtype, device)

    def deallocate(self, tensor: Tensor) -> None:
        bucket = self._bucket(tensor.numel() * tensor.element_size())
        if bucket is not None:
            bucket.deallocate(tensor)

    def clear(self) -> None:
        for bucket in self.buckets.values():
            bucket.clear()

    def get_stats(self) -> Dict[str, Any]:
        return {"buckets": {b.config.name: b.get_stats() for b in self.buckets.values()},
                "large_allocations": self._large._stats["allocations"]}

    def get_efficiency_report(self) -> str:
        return _allocator_report("BucketedMemoryPool", self.get_stats())


# ---- core.fragment_aware_pool ---------------------------------------------------------------

@dataclass
class MemoryBlock:
    address: int
    size: int
    device: torch.device
    dtype: torch.dtype
    is_free: bool = True
    allocation_time: float = 0.0
    last_access_time: float = 0.0
    access_count: int = 0
    tensor: Optional[Tensor] = None


@dataclass
class FragmentationStats:
    total_memory: int = 0
    used_memory: int = 0
    free_memory: int = 0
    largest_free_block: int = 0
    num_free_blocks: int = 0
    num_used_blocks: int = 0
    external_fragmentation: float = 0.0
    internal_fragmentation: float = 0.0
    average_block_size: float = 0.0
    fragmentation_score: float = 0.0

    def calculate_fragmentation(self) -> None:
        """External fragmentation ``1 - largest_free / free``; score = its mean with internal."""
        self.external_fragmentation = 1.0 - self.largest_free_block / self.free_memory if self.free_memory else 0.0
        blocks = self.num_free_blocks + self.num_used_blocks
        self.average_block_size = self.total_memory / blocks if blocks else 0.0
        self.fragmentation_score = (self.external_fragmentation + self.internal_fragmentation) / 2


class FragmentAwareMemoryPool(_TensorCache):
    """Fragmentation is the allocator's business; this pool reports what it can see."""

    def __init__(self, initial_size: int = 1 << 30, growth_factor: float = 2.0, fragmentation_threshold: float = 0.3,
                 compaction_strategy: str = "best_fit", enable_coalescing: bool = True):
        super().__init__()
        self.initial_size, self.growth_factor = initial_size, growth_factor
        self.fragmentation_threshold = fragmentation_threshold
        self.compaction_strategy, self.enable_coalescing = compaction_strategy, enable_coalescing

    def allocate(self, size: int, dtype: torch.dtype, device: torch.device,
                 shape: Optional[Tuple[int, ...]] = None) -> Tensor:
        return self._take(shape or (size // torch.empty((), dtype=dtype).element_size(),), dtype, device)

    def deallocate(self, tensor: Tensor) -> None:
        self._give(tensor)

    def get_stats(self, device: Optional[torch.device] = None) -> Dict[str, Any]:
        free = self._cached_bytes()
        stats = FragmentationStats(total_memory=free, free_memory=free, num_free_blocks=self._cached_count(),
                                   largest_free_block=max((t.numel() * t.element_size() for v in self._free.values()
                                                           for t in v), default=0))
        stats.calculate_fragmentation()
        return {**asdict(stats), **self._stats}

    def get_fragmentation_report(self) -> str:
        return _allocator_report("FragmentAwareMemoryPool", self.get_stats())


# ---- core.numa_aware_pool -------------------------------------------------------------------

@dataclass
class NUMANode:
    node_id: int
    cpu_cores: List[int]
    memory_size: int
    gpu_devices: List[int]
    distance_map: Dict[int, int]

    @property
    def num_cores(self) -> int:
        return len(self.cpu_cores)

    @property
    def memory_gb(self) -> float:
        return self.memory_size / 1024 ** 3


def _cpu_list(text: str) -> List[int]:
    cores: List[int] = []
    for part in filter(None, text.strip().split(",")):
        lo, _, hi = part.partition("-")
        cores.extend(range(int(lo), int(hi or lo) + 1))
    return cores


class NUMATopologyDetector:
    """NUMA nodes from ``/sys/devices/system/node`` (Linux); one node with every CPU elsewhere."""

    def __init__(self, root: str = "/sys/devices/system/node"):
        self.root = Path(root)
        self.nodes: Dict[int, NUMANode] = {}
        self.is_numa_available = False

    def detect(self) -> bool:
        self.nodes = {}
        for node_dir in sorted(self.root.glob("node[0-9]*")) if self.root.is_dir() else []:
            nid = int(node_dir.name[4:])
            cpus = _cpu_list((node_dir / "cpulist").read_text()) if (node_dir / "cpulist").exists() else []
            mem = 0
            meminfo = node_dir / "meminfo"
            if meminfo.exists():
                for line in meminfo.read_text().splitlines():
                    if "MemTotal" in line:
                        mem = int(line.split()[-2]) * 1024
            dist = node_dir / "distance"
            distances = [int(d) for d in dist.read_text().split()] if dist.exists() else []
            self.nodes[nid] = NUMANode(nid, cpus, mem, [], dict(enumerate(distances)))
        if not self.nodes:
            self.nodes[0] = NUMANode(0, list(range(os.cpu_count() or 1)), 0, [], {0: 10})
        if torch.cuda.is_available():
            self.nodes[min(self.nodes)].gpu_devices = list(range(torch.cuda.device_count()))
        self.is_numa_available = len(self.nodes) > 1
        return self.is_numa_available

    def get_topology_info(self) -> Dict[str, Any]:
        if not self.nodes:
            self.detect()
        return {"numa_available": self.is_numa_available, "num_nodes": len(self.nodes),
                "nodes": {n.node_id: {"cpu_cores": n.num_cores, "memory_gb": n.memory_gb, "gpu_devices": n.gpu_devices}
                          for n in self.nodes.values()}}


class NUMAAwareMemoryPool(_TensorCache):
    """Allocates through PyTorch; the topology is reported, placement is left to the OS."""

    def __init__(self, enable_numa: bool = True, prefer_local_allocation: bool = True,
                 auto_detect_topology: bool = True):
        super().__init__()
        self.enable_numa, self.prefer_local_allocation = enable_numa, prefer_local_allocation
        self.detector = NUMATopologyDetector()
        if auto_detect_topology:
            self.detector.detect()

    def allocate(self, shape: Tuple[int, ...], dtype: torch.dtype = torch.float32, device: Optional[torch.device] = None,
                 prefer_numa_node: Optional[int] = None, pin_memory: bool = False) -> Tensor:
        return self._take(shape, dtype, device, pin_memory=pin_memory)

    def deallocate(self, tensor: Tensor) -> None:
        self._give(tensor)

    @contextlib.contextmanager
    def numa_affinity(self, numa_node: int):
        """Accepted for compatibility; thread affinity is not changed (the OS places memory)."""
        if numa_node not in (self.detector.nodes or {0: None}):
            raise ValueError(f"numa_node must be one of {sorted(self.detector.nodes)}, got {numa_node}")
        yield

    def get_stats(self) -> Dict[str, Any]:
        return {"topology": self.detector.get_topology_info(), **self._stats}

    def get_numa_report(self) -> str:
        return _allocator_report("NUMAAwareMemoryPool", self.get_stats())


def get_numa_aware_pool(**kwargs) -> NUMAAwareMemoryPool:
    return _global("numa", lambda: NUMAAwareMemoryPool(**kwargs))


def reset_numa_pool() -> None:
    _reset_global("numa")


# ---- core.memory_profiler -------------------------------------------------------------------

@dataclass
class AllocationEvent:
    timestamp: float
    operation: str
    size_bytes: int
    shape: Tuple[int, ...]
    dtype: torch.dtype
    device: torch.device
    tensor_id: int
    stack_trace: Optional[List[str]] = None
    pool_type: str = "unknown"
    numa_node: Optional[int] = None

    @property
    def size_mb(self) -> float:
        return self.size_bytes / _MB

    @property
    def size_gb(self) -> float:
        return self.size_bytes / 1024 ** 3


@dataclass
class AllocationPattern:
    pattern_type: str
    frequency: int
    average_size: float
    size_variance: float
    confidence: float
    description: str
    recommendations: List[str] = field(default_factory=list)


@dataclass
class MemorySnapshot:
    timestamp: float
    total_allocated: int
    total_cached: int
    peak_allocated: int
    num_allocations: int
    num_deallocations: int
    fragmentation_score: float = 0.0
    numa_stats: Dict[int, Dict[str, Any]] = field(default_factory=dict)
    pool_stats: Dict[str, Dict[str, Any]] = field(default_factory=dict)

    @property
    def allocated_mb(self) -> float:
        return self.total_allocated / _MB

    @property
    def allocated_gb(self) -> float:
        return self.total_allocated / 1024 ** 3


class MemoryProfiler:
    """Records allocation events and snapshots (what the caller reports plus ``torch.cuda``
    counters) in lists; summaries are computed from them."""

    def __init__(self, enable_stack_traces: bool = True, max_events: int = 10000, snapshot_interval: float = 1.0,
                 pattern_analysis_window: int = 100, enable_numa_tracking: bool = True):
        self.enable_stack_traces, self.max_events = enable_stack_traces, max_events
        self.snapshot_interval, self.pattern_analysis_window = snapshot_interval, pattern_analysis_window
        self.enable_numa_tracking = enable_numa_tracking
        self.events: List[AllocationEvent] = []
        self.snapshots: List[MemorySnapshot] = []
        self.operations: Dict[str, List[float]] = defaultdict(list)
        self.is_profiling = False
        self._live: Dict[int, int] = {}
        self._peak = 0

    def start_profiling(self) -> None:
        self.is_profiling = True
        self._snapshot()

    def stop_profiling(self) -> None:
        self._snapshot()
        self.is_profiling = False

    def _snapshot(self) -> None:
        live = sum(self._live.values())
        allocated = torch.cuda.memory_allocated() if torch.cuda.is_available() else live
        cached = torch.cuda.memory_reserved() if torch.cuda.is_available() else live
        self._peak = max(self._peak, allocated)
        self.snapshots.append(MemorySnapshot(time.time(), allocated, cached, self._peak,
                                             sum(e.operation == "allocate" for e in self.events),
                                             sum(e.operation == "deallocate" for e in self.events)))

    @contextlib.contextmanager
    def profile_operation(self, operation_name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.operations[operation_name].append(time.perf_counter() - start)
            if self.is_profiling:
                self._snapshot()

    def _record(self, tensor: Tensor, operation: str, pool_type: str, numa_node: Optional[int]) -> None:
        if not self.is_profiling:
            return
        import traceback

        stack = traceback.format_stack(limit=8)[:-2] if self.enable_stack_traces else None
        nbytes = tensor.numel() * tensor.element_size()
        self.events.append(AllocationEvent(time.time(), operation, nbytes, tuple(tensor.shape), tensor.dtype,
                                           tensor.device, id(tensor), stack, pool_type, numa_node))
        del self.events[: max(0, len(self.events) - self.max_events)]
        if operation == "allocate":
            self._live[id(tensor)] = nbytes
        else:
            self._live.pop(id(tensor), None)

    def record_allocation(self, tensor: Tensor, pool_type: str = "unknown", numa_node: Optional[int] = None) -> None:
        self._record(tensor, "allocate", pool_type, numa_node)

    def record_deallocation(self, tensor: Tensor) -> None:
        self._record(tensor, "deallocate", "unknown", None)

    def get_memory_timeline(self, duration: float = 60.0) -> List[MemorySnapshot]:
        since = time.time() - duration
        return [s for s in self.snapshots if s.timestamp >= since]

    def get_allocation_summary(self) -> Dict[str, Any]:
        allocs = [e for e in self.events if e.operation == "allocate"]
        sizes = [e.size_bytes for e in allocs]
        by_pool: Dict[str, int] = defaultdict(int)
        for e in allocs:
            by_pool[e.pool_type] += 1
        return {"total_allocations": len(allocs),
                "total_deallocations": sum(e.operation == "deallocate" for e in self.events),
                "total_bytes_allocated": sum(sizes), "average_allocation_size": sum(sizes) / len(sizes) if sizes else 0,
                "live_bytes": sum(self._live.values()), "peak_allocated": self._peak, "allocations_by_pool": dict(by_pool),
                "operations": {k: {"count": len(v), "total_time": sum(v)} for k, v in self.operations.items()}}

    def get_recommendations(self) -> List[str]:
        summary = self.get_allocation_summary()
        tips = []
        if summary["total_allocations"] > summary["total_deallocations"] * 2 and summary["total_allocations"] > 10:
            tips.append("Many tensors are allocated and never returned: reuse buffers or let them go out of scope.")
        return tips

    def generate_report(self, include_timeline: bool = True) -> str:
        lines = ["Memory profile", *(f"  {k}: {v}" for k, v in self.get_allocation_summary().items())]
        if include_timeline:
            lines += [f"  t={s.timestamp:.3f} allocated={s.allocated_mb:.2f} MB" for s in self.snapshots]
        lines += [f"  recommendation: {tip}" for tip in self.get_recommendations()]
        return "\n".join(lines)

    def export_data(self, filepath: Path) -> None:
        def plain(obj):
            return {k: (str(v) if isinstance(v, (torch.dtype, torch.device)) else v) for k, v in asdict(obj).items()}

        Path(filepath).write_text(json.dumps({"summary": self.get_allocation_summary(),
                                              "events": [plain(e) for e in self.events],
                                              "snapshots": [plain(s) for s in self.snapshots]}, default=str))

    def clear_data(self) -> None:
        self.events.clear()
        self.snapshots.clear()
        self.operations.clear()
        self._live.clear()
        self._peak = 0


def get_memory_profiler(**kwargs) -> MemoryProfiler:
    return _global("profiler", lambda: MemoryProfiler(**kwargs))


def reset_memory_profiler() -> None:
    with _GLOBALS_LOCK:
        _GLOBALS.pop("profiler", None)


def profile_memory(operation_name: str = "operation"):
    """Decorator: time the function under the global profiler's ``profile_operation``."""
    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            with get_memory_profiler().profile_operation(operation_name):
                return fn(*args, **kwargs)
        return inner
    return wrap


# ---- core.memory_visualizer -----------------------------------------------------------------

HAS_MATPLOTLIB = __import__("importlib.util").util.find_spec("matplotlib") is not None
HAS_PLOTLY = __import__("importlib.util").util.find_spec("plotly") is not None


class MemoryVisualizer:
    """Tables of a ``MemoryProfiler`` as self-contained HTML (no plotting library needed)."""

    def __init__(self, profiler: MemoryProfiler):
        self.profiler = profiler

    def _table(self, title: str, rows: List[Tuple[Any, ...]], header: Tuple[str, ...]) -> str:
        cells = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        return f"<h2>{html.escape(title)}</h2><table><tr>{head}</tr>{cells}</table>"

    def _out(self, text: str, save_path: Optional[Path]) -> str:
        if save_path is not None:
            Path(save_path).write_text(text)
        return text

    def plot_memory_timeline(self, duration: float = 300.0, save_path: Optional[Path] = None,
                             interactive: bool = True) -> Optional[str]:
        rows = [(f"{s.timestamp:.3f}", f"{s.allocated_mb:.2f}", s.num_allocations)
                for s in self.profiler.get_memory_timeline(duration)]
        return self._out(self._table("Memory timeline", rows, ("time", "allocated MB", "allocations")), save_path)

    def plot_allocation_distribution(self, save_path: Optional[Path] = None, interactive: bool = True) -> Optional[str]:
        sizes: Dict[Tuple[int, ...], int] = defaultdict(int)
        for e in self.profiler.events:
            if e.operation == "allocate":
                sizes[e.shape] += 1
        return self._out(self._table("Allocations by shape", sorted(sizes.items(), key=lambda kv: -kv[1]),
                                     ("shape", "count")), save_path)

    def plot_pool_efficiency(self, save_path: Optional[Path] = None, interactive: bool = True) -> Optional[str]:
        pools = self.profiler.get_allocation_summary()["allocations_by_pool"]
        return self._out(self._table("Allocations by pool", list(pools.items()), ("pool", "allocations")), save_path)

    def create_dashboard(self, save_path: Optional[Path] = None, duration: float = 300.0) -> str:
        body = (self.plot_memory_timeline(duration) + self.plot_allocation_distribution()
                + self.plot_pool_efficiency())
        return self._out(f"<html><head><title>Memory dashboard</title></head><body>{body}</body></html>", save_path)

    def export_plots(self, output_dir: Path, duration: float = 300.0, format: str = "html") -> None:
        if format != "html":
            raise ValueError(f"format must be 'html' (plots are HTML tables), got {format!r}")
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.plot_memory_timeline(duration, out / "timeline.html")
        self.plot_allocation_distribution(out / "distribution.html")
        self.plot_pool_efficiency(out / "pools.html")


def create_memory_dashboard(profiler: MemoryProfiler, save_path: Optional[Path] = None,
                            duration: float = 300.0) -> str:
    return MemoryVisualizer(profiler).create_dashboard(save_path, duration)


# ---- core.enhanced_memory_pool --------------------------------------------------------------

class EnhancedMemoryPool(_TensorCache):
    """The old composition of the pools above: one tensor cache, optional profiling."""

    def __init__(self, enable_fragment_aware: bool = True, enable_bucketed: bool = True, enable_numa: bool = True,
                 enable_profiling: bool = False, fragmentation_threshold: float = 0.3,
                 bucket_sizes: Optional[list] = None, adaptive_buckets: bool = True):
        super().__init__()
        self.profiler = MemoryProfiler() if enable_profiling else None
        if self.profiler is not None:
            self.profiler.start_profiling()

    def allocate(self, shape: Tuple[int, ...], dtype: torch.dtype = torch.float32, device: Optional[torch.device] = None,
                 strategy: str = "auto") -> Tensor:
        tensor = self._take(shape, dtype, device)
        if self.profiler is not None:
            self.profiler.record_allocation(tensor, strategy)
        return tensor

    def deallocate(self, tensor: Tensor) -> None:
        if self.profiler is not None:
            self.profiler.record_deallocation(tensor)
        self._give(tensor)

    def get_stats(self) -> Dict[str, Any]:
        return {**self._stats, "cached_tensors": self._cached_count()}

    def get_efficiency_report(self) -> str:
        return _allocator_report("EnhancedMemoryPool", self.get_stats())

    def get_profiling_report(self) -> str:
        return self.profiler.generate_report() if self.profiler is not None else "Profiling disabled"

    def export_profiling_data(self, filepath: Path) -> None:
        if self.profiler is None:
            raise RuntimeError("profiling is disabled: construct with enable_profiling=True")
        self.profiler.export_data(filepath)

    def create_memory_dashboard(self, save_path: Optional[Path] = None) -> str:
        if self.profiler is None:
            raise RuntimeError("profiling is disabled: construct with enable_profiling=True")
        return create_memory_dashboard(self.profiler, save_path)

    def defragment_all(self) -> Dict[str, bool]:
        self._clear()
        return {"cache_cleared": True}

    def clear(self) -> None:
        self._clear()


def get_enhanced_memory_pool(**kwargs) -> EnhancedMemoryPool:
    return _global("enhanced", lambda: EnhancedMemoryPool(**kwargs))


def reset_enhanced_memory_pool() -> None:
    _reset_global("enhanced")


# ---- core.pattern_cache / optimized_pattern_cache / simple_gpu_cache -------------------------

class PatternCache:
    """A dict with ``get``/``put``/``clear``."""

    def __init__(self):
        self.cache: Dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        return self.cache.get(key, default)

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self.cache[key] = value

    def clear(self) -> None:
        with self._lock:
            self.cache.clear()

    def __len__(self) -> int:
        return len(self.cache)

    def __contains__(self, key) -> bool:
        return key in self.cache


class DilatedPatternCache(PatternCache):
    """Tensors kept on CPU (by default) and moved to ``target_device`` on ``get``."""

    def get(self, key: str, target_device: Optional[torch.device] = None) -> Optional[Tensor]:
        value = self.cache.get(key)
        if value is not None and target_device is not None and isinstance(value, Tensor):
            value = value.to(target_device)
        return value

    def put(self, key: str, value: Tensor, move_to_cpu: bool = True) -> None:
        super().put(key, value.cpu() if move_to_cpu and isinstance(value, Tensor) else value)


class DilatedOptimizedPatternCache(DilatedPatternCache):
    """``core.pattern_cache.OptimizedPatternCache`` (the same as ``DilatedPatternCache``)."""


def get_global_pattern_cache() -> Dict[str, Any]:
    return _global("pattern_dict", dict)


def clear_global_cache() -> None:
    with _GLOBALS_LOCK:
        cache = _GLOBALS.get("pattern_dict")
    if cache is not None:
        cache.clear()


def get_dilated_optimized_cache() -> DilatedPatternCache:
    """``core.pattern_cache.get_optimized_pattern_cache``: a new instance each call (as before)."""
    return DilatedPatternCache()


def clear_dilated_optimized_cache() -> None:
    """``core.pattern_cache.clear_optimized_cache``: nothing to clear (instance caches)."""


class OptimizedPatternCache:
    """LRU caches of tensors: ``max_gpu_patterns`` kept on device, ``max_cpu_patterns`` on CPU."""

    def __init__(self, max_gpu_patterns: int = 50, max_cpu_patterns: int = 500, gpu_memory_limit_mb: float = 100.0,
                 enable_async: bool = True, enable_prefetch: bool = True):
        self.max_gpu_patterns, self.max_cpu_patterns = max_gpu_patterns, max_cpu_patterns
        self.gpu_memory_limit_mb = gpu_memory_limit_mb
        self.enable_async, self.enable_prefetch = enable_async, enable_prefetch
        self.gpu_cache: "OrderedDict[Tuple[str, str], Tensor]" = OrderedDict()
        self.cpu_cache: "OrderedDict[str, Tensor]" = OrderedDict()
        self._lock = threading.Lock()
        self.stats = {"hits": 0, "misses": 0, "gpu_hits": 0, "cpu_hits": 0, "transfers": 0, "evictions": 0}

    def get(self, key: str, target_device: Optional[torch.device] = None,
            prefetch_next: Optional[str] = None) -> Optional[Tensor]:
        with self._lock:
            if target_device is not None and (key, str(target_device)) in self.gpu_cache:
                self.gpu_cache.move_to_end((key, str(target_device)))
                self.stats["hits"] += 1
                self.stats["gpu_hits"] += 1
                return self.gpu_cache[(key, str(target_device))]
            value = self.cpu_cache.get(key)
            if value is None:
                self.stats["misses"] += 1
                return None
            self.cpu_cache.move_to_end(key)
            self.stats["hits"] += 1
            self.stats["cpu_hits"] += 1
        if target_device is None or torch.device(target_device).type == "cpu":
            return value
        moved = value.to(target_device)
        with self._lock:
            self.stats["transfers"] += 1
            self._keep_on_device(key, moved)
        return moved

    def _keep_on_device(self, key: str, value: Tensor) -> None:
        self.gpu_cache[(key, str(value.device))] = value
        while len(self.gpu_cache) > self.max_gpu_patterns:
            self.gpu_cache.popitem(last=False)
            self.stats["evictions"] += 1

    def put(self, key: str, pattern: Tensor, store_on_gpu: bool = False) -> None:
        with self._lock:
            self.cpu_cache[key] = pattern.cpu()
            self.cpu_cache.move_to_end(key)
            while len(self.cpu_cache) > self.max_cpu_patterns:
                self.cpu_cache.popitem(last=False)
                self.stats["evictions"] += 1
            if store_on_gpu and pattern.device.type != "cpu":
                self._keep_on_device(key, pattern)

    def get_batch(self, keys: list[str], target_device: Optional[torch.device] = None) -> Dict[str, Optional[Tensor]]:
        return {key: self.get(key, target_device) for key in keys}

    def pin_pattern(self, key: str, device: torch.device) -> bool:
        value = self.get(key, device)
        return value is not None

    def get_stats(self) -> Dict[str, Any]:
        total = self.stats["hits"] + self.stats["misses"]
        return {**self.stats, "hit_rate": self.stats["hits"] / total if total else 0.0,
                "gpu_patterns": len(self.gpu_cache), "cpu_patterns": len(self.cpu_cache)}

    def clear(self) -> None:
        with self._lock:
            self.gpu_cache.clear()
            self.cpu_cache.clear()


def get_optimized_pattern_cache(**kwargs) -> OptimizedPatternCache:
    return _global("optimized", lambda: OptimizedPatternCache(**kwargs))


def clear_optimized_cache() -> None:
    with _GLOBALS_LOCK:
        cache = _GLOBALS.get("optimized")
    if cache is not None:
        cache.clear()


class SimpleGPUPatternCache:
    """Dilation index patterns kept on one device (an LRU dict of ``max_patterns``)."""

    def __init__(self, device: torch.device = None, pregenerate: bool = True, max_patterns: int = 100):
        self.device = torch.device(device) if device is not None else _default_device()
        self.max_patterns = max_patterns
        self.cache: "OrderedDict[str, Tensor]" = OrderedDict()
        self.hits = self.misses = 0
        if pregenerate:
            self.warmup({(s, r, o) for s in (64, 128, 256) for r in (1, 2, 4) for o in range(min(r, 2))})

    def _generate_pattern(self, segment_len: int, dilation_rate: int, offset: int) -> Tensor:
        """``offset, offset + r, ...`` below ``segment_len``, cycled to ``segment_len`` entries,
        modulo ``segment_len``; ``arange(segment_len)`` when ``r == 1``."""
        if dilation_rate <= 1:
            return torch.arange(segment_len, device=self.device)
        picks = torch.arange(offset, segment_len, dilation_rate, device=self.device)
        return picks.repeat(-(-segment_len // len(picks)))[:segment_len] % segment_len

    def get(self, key: str) -> Optional[Tensor]:
        value = self.cache.get(key)
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        self.cache.move_to_end(key)
        return value

    def put(self, key: str, pattern: Tensor) -> None:
        self.cache[key] = pattern.to(self.device)
        self.cache.move_to_end(key)
        while len(self.cache) > self.max_patterns:
            self.cache.popitem(last=False)

    def get_or_generate(self, key: str, segment_len: int, dilation_rate: int, offset: int) -> Tensor:
        pattern = self.get(key)
        if pattern is None:
            pattern = self._generate_pattern(segment_len, dilation_rate, offset)
            self.put(key, pattern)
        return pattern

    def warmup(self, patterns: Set[tuple[int, int, int]]) -> None:
        for s, r, o in sorted(patterns):
            self.put(f"dilated_{s}_{r}_{o}", self._generate_pattern(s, r, o))

    def get_stats(self) -> Dict[str, Any]:
        total = self.hits + self.misses
        return {"hits": self.hits, "misses": self.misses, "hit_rate": self.hits / total if total else 0.0,
                "cached_patterns": len(self.cache), "device": str(self.device)}

    def clear(self) -> None:
        self.cache.clear()
        self.hits = self.misses = 0


def get_simple_gpu_cache(**kwargs) -> SimpleGPUPatternCache:
    return _global("simple_gpu", lambda: SimpleGPUPatternCache(**kwargs))


def clear_simple_gpu_cache() -> None:
    _reset_global("simple_gpu")
