"""``utils.sparse_pattern_utils`` of 0.2: block-pattern generators, quality metrics, tools.

Patterns are bool ``[heads, blocks, blocks]`` built from index arithmetic. Where the old code
drew random numbers (random layouts, the sparsity adjustment, long-range links) the same
draws are made in the same order from the global RNG, so seeded runs give the old patterns
(recorded in ``tests/legacy/recordings``).
"""

from __future__ import annotations

import gzip
import math
import pickle
import threading
import warnings
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


class PatternType(Enum):
    """Kinds of block layout."""

    LOCAL_WINDOW = "local_window"
    DILATED_SPARSE = "dilated_sparse"
    GLOBAL_LOCAL = "global_local"
    STRIDED = "strided"
    RANDOM = "random"
    LEARNED = "learned"
    HIERARCHICAL = "hierarchical"
    CONTENT_ADAPTIVE = "content_adaptive"


@dataclass
class PatternQualityMetrics:
    """How well a block pattern stands in for dense attention."""

    coverage_ratio: float
    locality_score: float
    global_connectivity: float
    efficiency_score: float
    compression_ratio: float
    approximation_error: float


@dataclass
class PatternConfig:
    """What ``SparsePatternGenerator`` builds; ``sparsity_ratio`` is the kept fraction."""

    pattern_type: PatternType = PatternType.DILATED_SPARSE
    sparsity_ratio: float = 0.25
    block_size: int = 128
    local_window_size: int = 512
    global_tokens: int = 64
    dilation_rates: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
    stride: int = 4
    random_seed: int | None = None
    quality_threshold: float = 0.95
    enable_caching: bool = True
    enable_compression: bool = False


def _grid(n: int, device) -> tuple[Tensor, Tensor]:
    idx = torch.arange(n, device=device)
    return idx[:, None], idx[None, :]


def _window(n: int, radius: int, device, floor: int = 0) -> Tensor:
    """Row ``i`` keeps ``[max(floor, i - radius), i + radius]``."""
    i, j = _grid(n, device)
    return (j >= (i - radius).clamp(min=floor)) & (j <= i + radius)


class SparsePatternGenerator:
    """Bool block patterns ``[heads, blocks, blocks]`` of a ``PatternConfig``, cached by
    ``(seq_len, heads, type, ratio, block_size)``."""

    def __init__(self, config: PatternConfig):
        self.config = config
        self.pattern_cache: dict[tuple, Tensor] = {}
        self.quality_cache: dict[tuple, PatternQualityMetrics] = {}
        self._cache_lock = threading.Lock()
        if config.random_seed is not None:
            torch.manual_seed(config.random_seed)

    def generate_pattern(self, seq_len: int, num_heads: int = 1, device: torch.device | None = None) -> Tensor:
        cfg = self.config
        device = device if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
        key = (seq_len, num_heads, cfg.pattern_type.value, cfg.sparsity_ratio, cfg.block_size)
        if cfg.enable_caching:
            with self._cache_lock:
                if key in self.pattern_cache:
                    return self.pattern_cache[key].to(device)
        builders = {PatternType.LOCAL_WINDOW: self._local, PatternType.DILATED_SPARSE: self._dilated,
                    PatternType.GLOBAL_LOCAL: self._global_local, PatternType.STRIDED: self._strided,
                    PatternType.RANDOM: self._random, PatternType.HIERARCHICAL: self._hierarchical}
        if cfg.pattern_type not in builders:
            raise ValueError(f"Unsupported pattern type: {cfg.pattern_type}")
        pattern = builders[cfg.pattern_type](seq_len // cfg.block_size, num_heads, device)
        pattern = self._enforce_sparsity_ratio(pattern, cfg.sparsity_ratio)
        if cfg.enable_caching:
            with self._cache_lock:
                self.pattern_cache[key] = pattern.cpu()
        return pattern

    def _local(self, n: int, heads: int, device) -> Tensor:
        radius = self.config.local_window_size // self.config.block_size // 2
        return _window(n, radius, device).expand(heads, n, n).clone()

    def _dilated(self, n: int, heads: int, device) -> Tensor:
        if n == 0:
            return torch.zeros(heads, 0, 0, dtype=torch.bool, device=device)
        target = int(n * n * self.config.sparsity_ratio)
        lo, hi = -target // (2 * n), target // (2 * n)  # the old offset range (floor division)
        rates = torch.tensor([self.config.dilation_rates[h % len(self.config.dilation_rates)] for h in range(heads)],
                             device=device)[:, None, None]
        i, j = _grid(n, device)
        diff = (j - i)[None]
        hit = (diff % rates == 0) & (diff // rates >= lo) & (diff // rates <= hi)
        return hit | (i == j)[None]

    def _global_local(self, n: int, heads: int, device) -> Tensor:
        g = self.config.global_tokens // self.config.block_size
        radius = self.config.local_window_size // self.config.block_size // 2
        i, j = _grid(n, device)
        local = _window(n, radius, device, floor=g) & (i >= g)
        return ((i < g) | (j < g) | local).expand(heads, n, n).clone()

    def _strided(self, n: int, heads: int, device) -> Tensor:
        i, j = _grid(n, device)
        return ((j % self.config.stride == 0) | ((i - j).abs() == 1)).expand(heads, n, n).clone()

    def _random(self, n: int, heads: int, device) -> Tensor:
        total = n * n
        active = int(total * self.config.sparsity_ratio)
        pattern = torch.zeros(heads, total, dtype=torch.bool, device=device)
        picks = torch.stack([torch.randperm(total)[:active] for _ in range(heads)]) if heads else None  # draw order
        if picks is not None:
            pattern.scatter_(1, picks.to(device), True)
        return pattern.view(heads, n, n)

    def _hierarchical(self, n: int, heads: int, device) -> Tensor:
        return self._local(n, heads, device) | self._dilated(n, heads, device) | self._global_local(n, heads, device)

    def _enforce_sparsity_ratio(self, pattern: Tensor, target_ratio: float) -> Tensor:
        """Flip random entries (one randperm, as before) until the kept fraction is near
        ``target_ratio``; within 0.01 the pattern is left alone."""
        current = pattern.float().mean()
        if abs(current - target_ratio) < 0.01:
            return pattern
        remove = current > target_ratio
        count = int(((current - target_ratio) if remove else (target_ratio - current)) * pattern.numel())
        candidates = torch.nonzero(pattern if remove else ~pattern, as_tuple=False)
        if len(candidates) > count:
            pattern = pattern.clone()
            chosen = candidates[torch.randperm(len(candidates))[:count].to(candidates.device)]
            pattern[tuple(chosen.t())] = not remove
        return pattern


class PatternQualityAnalyzer:
    """Coverage, locality, connectivity and error of a block pattern."""

    def __init__(self):
        self.analysis_cache: dict[str, Any] = {}

    def analyze_pattern_quality(self, sparse_pattern: Tensor, reference_attention: Tensor | None = None,
                                q: Tensor | None = None, k: Tensor | None = None) -> PatternQualityMetrics:
        if reference_attention is None and q is not None and k is not None:
            reference_attention = self._compute_reference_attention(q, k)
        coverage = self._calculate_coverage_ratio(sparse_pattern, reference_attention)
        return PatternQualityMetrics(
            coverage_ratio=coverage,
            locality_score=self._calculate_locality_score(sparse_pattern),
            global_connectivity=self._calculate_global_connectivity(sparse_pattern),
            efficiency_score=self._calculate_efficiency_score(sparse_pattern, coverage),
            compression_ratio=1.0 - sparse_pattern.float().mean().item(),
            approximation_error=self._calculate_approximation_error(sparse_pattern, reference_attention))

    def _compute_reference_attention(self, q: Tensor, k: Tensor) -> Tensor:
        return torch.softmax(torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.size(-1)), dim=-1)

    def _calculate_coverage_ratio(self, sparse_pattern: Tensor, reference_attention: Tensor | None) -> float:
        """Fraction of the top 10% reference weights the pattern keeps."""
        if reference_attention is None:
            return 1.0
        top = torch.zeros(reference_attention.numel(), dtype=torch.bool, device=reference_attention.device)
        top[torch.topk(reference_attention.flatten(), int(0.1 * reference_attention.numel())).indices] = True
        top = top.view(reference_attention.shape)
        if sparse_pattern.shape != reference_attention.shape:
            sparse_pattern = self._expand_block_pattern_to_tokens(sparse_pattern, reference_attention.shape)
        total = top.sum().float()
        return ((sparse_pattern & top).sum().float() / total).item() if total > 0 else 0.0

    def _calculate_locality_score(self, sparse_pattern: Tensor) -> float:
        """Fraction of kept pairs within ``min(8, blocks // 4)`` blocks of the diagonal."""
        n = sparse_pattern.shape[-1]
        total = sparse_pattern.sum().item()
        near = _window(n, min(8, n // 4), sparse_pattern.device)
        return (sparse_pattern & near).sum().item() / total if total > 0 else 0.0

    def _calculate_global_connectivity(self, sparse_pattern: Tensor) -> float:
        """Fraction of block pairs joined by a path (transitive closure by repeated squaring)."""
        reach = sparse_pattern.bool()
        n = reach.shape[-1]
        for _ in range(max(1, math.ceil(math.log2(max(n, 2)))) + 1):
            reach = reach | (torch.matmul(reach.float(), reach.float()) > 0)
        return (reach.float().sum() / reach.numel()).item() if reach.numel() else float("nan")

    def _calculate_efficiency_score(self, sparse_pattern: Tensor, coverage_ratio: float) -> float:
        density = sparse_pattern.float().mean().item()
        return coverage_ratio / density if density > 0 else 0.0

    def _calculate_approximation_error(self, sparse_pattern: Tensor, reference_attention: Tensor | None) -> float:
        """Relative Frobenius error of the reference with the dropped pairs zeroed."""
        if reference_attention is None:
            return 0.0
        if sparse_pattern.shape != reference_attention.shape:
            sparse_pattern = self._expand_block_pattern_to_tokens(sparse_pattern, reference_attention.shape)
        norm = torch.norm(reference_attention, p="fro")
        error = torch.norm(reference_attention * (~sparse_pattern).float(), p="fro")
        return (error / norm).item() if norm > 0 else 0.0

    def _expand_block_pattern_to_tokens(self, block_pattern: Tensor, target_shape: tuple[int, ...]) -> Tensor:
        """``[heads, nb, nb]`` -> ``[batch, heads, seq, seq]`` with ``seq // nb`` tokens per
        block; heads beyond the pattern's and trailing tokens stay False."""
        heads, nb, _ = block_pattern.shape
        batch, target_heads, seq, _ = target_shape
        size = seq // nb
        out = torch.zeros(batch, target_heads, seq, seq, dtype=torch.bool, device=block_pattern.device)
        h = min(heads, target_heads)
        tokens = block_pattern[:h].repeat_interleave(size, 1).repeat_interleave(size, 2)
        out[:, :h, : nb * size, : nb * size] = tokens
        return out


class PatternOptimizer:
    """Adds pairs to a pattern until its efficiency score reaches ``quality_threshold``."""

    def __init__(self, quality_threshold: float = 0.95):
        self.quality_threshold = quality_threshold
        self.analyzer = PatternQualityAnalyzer()

    def optimize_pattern(self, initial_pattern: Tensor, reference_attention: Tensor | None = None,
                         max_iterations: int = 10) -> Tensor:
        pattern = initial_pattern.clone()
        for _ in range(max_iterations):
            metrics = self.analyzer.analyze_pattern_quality(pattern, reference_attention)
            if metrics.efficiency_score >= self.quality_threshold:
                break
            pattern = self._optimization_step(pattern, reference_attention, metrics)
        return pattern

    def _optimization_step(self, pattern: Tensor, reference_attention: Tensor | None,
                           metrics: PatternQualityMetrics) -> Tensor:
        pattern = pattern.clone()
        if metrics.coverage_ratio < 0.9 and reference_attention is not None:
            pattern = self._improve_coverage(pattern, reference_attention)
        if metrics.locality_score < 0.8:
            pattern = self._improve_locality(pattern)
        if metrics.global_connectivity < 0.5:
            pattern = self._improve_global_connectivity(pattern)
        return pattern

    def _improve_coverage(self, pattern: Tensor, reference_attention: Tensor) -> Tensor:
        """Keep half of the top 5% reference weights, by flat index into the pattern (as before)."""
        k = int(0.05 * reference_attention.numel())
        top = torch.topk(reference_attention.flatten(), k).indices[: k // 2]
        pattern.view(-1)[top.to(pattern.device)] = True
        return pattern

    def _improve_locality(self, pattern: Tensor) -> Tensor:
        i, j = _grid(pattern.shape[-1], pattern.device)
        pattern |= ((i - j).abs() == 1)[None]
        return pattern

    def _improve_global_connectivity(self, pattern: Tensor) -> Tensor:
        """Two random columns per row: one randperm per (head, row) in that order, as before."""
        heads, n, _ = pattern.shape
        if heads * n == 0:
            return pattern
        picks = torch.stack([torch.randperm(n)[:2] for _ in range(heads * n)]).view(heads, n, -1)
        pattern.scatter_(2, picks.to(pattern.device), True)
        return pattern


try:  # plotting is optional, as before
    import matplotlib.pyplot as _plt

    HAS_MATPLOTLIB = True
except ImportError:
    _plt = None
    HAS_MATPLOTLIB = False
HAS_NUMPY = True


class PatternVisualizer:
    """Heat maps of patterns (needs matplotlib; without it the methods return None)."""

    def __init__(self):
        if not HAS_MATPLOTLIB:
            warnings.warn("Matplotlib not available. Visualization features disabled.", stacklevel=2)

    def visualize_pattern(self, pattern: Tensor, title: str = "Sparse Attention Pattern", save_path: str | None = None,
                          show: bool = True):
        return self.compare_patterns({title: pattern}, save_path, show)

    def compare_patterns(self, patterns: dict[str, Tensor], save_path: str | None = None, show: bool = True):
        if not HAS_MATPLOTLIB:
            return None
        fig, axes = _plt.subplots(1, len(patterns), figsize=(5 * len(patterns), 5), squeeze=False)
        for ax, (name, pattern) in zip(axes[0], patterns.items()):
            grid = pattern[0] if pattern.dim() == 3 else pattern
            image = ax.imshow(grid.float().cpu().numpy(), cmap="Blues", aspect="auto")
            ax.set_title(f"{name}\nSparsity: {pattern.float().mean():.3f}")
            ax.set_xlabel("Key Blocks")
            ax.set_ylabel("Query Blocks")
            _plt.colorbar(image, ax=ax)
        fig.tight_layout()
        if save_path:
            fig.savefig(save_path, dpi=300, bbox_inches="tight")
        if show:
            _plt.show()
        return fig


def save_sparse_pattern(pattern: Tensor, filepath: str, compress: bool = True) -> None:
    """Pickle ``{"pattern", "shape", "sparsity", "dtype"}`` to ``filepath`` (``.gz`` appended
    when compressed): the old file format, so old files load."""
    data = {"pattern": pattern.cpu(), "shape": pattern.shape, "sparsity": pattern.float().mean().item(),
            "dtype": str(pattern.dtype)}
    opener = (lambda: gzip.open(filepath + ".gz", "wb")) if compress else (lambda: open(filepath, "wb"))
    with opener() as f:
        pickle.dump(data, f)


def load_sparse_pattern(filepath: str) -> Tensor:
    """The pattern saved by ``save_sparse_pattern`` (``filepath.gz`` first, then ``filepath``).
    Pickle runs code: load only files you trust."""
    try:
        with gzip.open(filepath + ".gz", "rb") as f:
            data = pickle.load(f)  # noqa: S301 - the old file format is a pickle
    except (OSError, EOFError):
        with open(filepath, "rb") as f:
            data = pickle.load(f)  # noqa: S301
    return data["pattern"]


def analyze_pattern_statistics(pattern: Tensor) -> dict[str, float]:
    """Density and row/column statistics; "sparsity_ratio" is the kept fraction (old naming)."""
    stats: dict[str, float] = {"sparsity_ratio": pattern.float().mean().item()}
    stats["density_ratio"] = 1.0 - stats["sparsity_ratio"]
    stats["total_elements"] = pattern.numel()
    stats["active_elements"] = pattern.sum().item()
    if pattern.dim() >= 2:
        rows, cols = pattern.sum(dim=-1).float(), pattern.sum(dim=-2).float()
        stats.update(avg_row_density=rows.mean().item(), avg_col_density=cols.mean().item(),
                     row_density_std=rows.std().item(), col_density_std=cols.std().item())
        if pattern.shape[-1] == pattern.shape[-2]:
            stats["diagonal_density"] = torch.diagonal(pattern, dim1=-2, dim2=-1).float().mean().item()
    return stats


_HARDWARE_BLOCK = {"a100": 16, "h100": 16, "v100": 8, "cpu": 32}


def optimize_pattern_for_hardware(pattern: Tensor, hardware: str = "auto", block_size: int = 16) -> Tensor:
    """Round a pattern up to whole tiles of the hardware's size (any kept entry keeps its tile)."""
    if hardware == "auto":
        if torch.cuda.is_available():
            name = torch.cuda.get_device_name()
            hardware = next((h for h in ("a100", "h100", "v100") if h.upper() in name), "gpu")
        else:
            hardware = "cpu"
    return _align_to_blocks(pattern, _HARDWARE_BLOCK.get(hardware, block_size))


def _align_to_blocks(pattern: Tensor, block_size: int) -> Tensor:
    h, w = pattern.shape[-2:]
    padded = F.pad(pattern, (0, (-w) % block_size, 0, (-h) % block_size), value=False)
    H, W = padded.shape[-2:]
    tiles = padded.view(*padded.shape[:-2], H // block_size, block_size, W // block_size, block_size)
    keep = tiles.any(dim=-1).any(dim=-2)
    out = keep.repeat_interleave(block_size, -2).repeat_interleave(block_size, -1)
    return out[..., :h, :w]
