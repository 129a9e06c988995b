"""Small ``utils`` modules of 0.2: input validation, Hilbert/Z-order curves, the dynamic
segment selector, return-value standardising and the Hilbert attention mixin.

The curves and the selector return what the old functions returned (recorded in
``tests/legacy/recordings``); the curves are computed on whole index arrays at once.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

Tensor = torch.Tensor


# ---- utils.validation -----------------------------------------------------------------------

class ValidationMixin:
    """Argument checks shared by the old configs and modules; each raises ValueError naming
    the argument and the rule."""

    @staticmethod
    def validate_segment_dilation_match(segment_lengths: Sequence[int], dilation_rates: Sequence[int]) -> None:
        if not segment_lengths:
            raise ValueError("segment_lengths cannot be empty")
        if not dilation_rates:
            raise ValueError("dilation_rates cannot be empty")
        if len(segment_lengths) != len(dilation_rates):
            raise ValueError("segment_lengths and dilation_rates must have the same length: "
                             f"{len(segment_lengths)} != {len(dilation_rates)}")

    @staticmethod
    def validate_positive_values(values: Sequence[int | float], name: str) -> None:
        bad = [(i, v) for i, v in enumerate(values) if v <= 0]
        if bad:
            raise ValueError(f"{name}[{bad[0][0]}] must be positive, got {bad[0][1]}")

    @staticmethod
    def validate_tensor_shape(tensor: Tensor, expected_dims: int, name: str) -> None:
        if tensor.dim() != expected_dims:
            raise ValueError(f"{name} expected {expected_dims}D tensor, got {tensor.dim()}D. Shape: {tensor.shape}")

    @staticmethod
    def validate_tensor_shapes_match(tensors: list[Tensor], names: list[str],
                                     dims_to_check: list[int] | None = None) -> None:
        if not tensors:
            return
        base = tensors[0].shape
        for tensor, name in zip(tensors[1:], names[1:]):
            if dims_to_check is None and tensor.shape != base:
                raise ValueError(f"Shape mismatch: {names[0]} has shape {base}, {name} has shape {tensor.shape}")
            for dim in dims_to_check or ():
                if tensor.shape[dim] != base[dim]:
                    raise ValueError(f"Shape mismatch at dimension {dim}: {names[0]} has size {base[dim]}, "
                                     f"{name} has size {tensor.shape[dim]}")

    @staticmethod
    def validate_sequence_length(seq_len: int, segment_lengths: Sequence[int]) -> None:
        if not segment_lengths:
            raise ValueError("segment_lengths cannot be empty")
        largest = max(segment_lengths)
        if seq_len % largest:
            raise ValueError(f"Sequence length ({seq_len}) must be divisible by the largest segment length "
                             f"({largest}). Consider padding sequence to {(seq_len // largest + 1) * largest}")

    @staticmethod
    def validate_device_dtype_consistency(tensors: Sequence[Tensor], names: Sequence[str]) -> None:
        if not tensors:
            return
        for tensor, name in zip(tensors, names):
            if tensor.device != tensors[0].device:
                raise ValueError(f"Device mismatch: {names[0]} on {tensors[0].device}, {name} on {tensor.device}")
            if tensor.dtype != tensors[0].dtype:
                raise ValueError(f"Dtype mismatch: {names[0]} has {tensors[0].dtype}, {name} has {tensor.dtype}")

    @staticmethod
    def validate_batch_first_format(tensor: Tensor, name: str, expected_dims: int = 4) -> None:
        if tensor.dim() != expected_dims:
            raise ValueError(f"{name} must be {expected_dims}D tensor in batch-first format, got {tensor.dim()}D "
                             f"tensor with shape {tensor.shape}")

    @staticmethod
    def validate_attention_mask(mask: Tensor | None, batch_size: int, seq_len: int,
                                name: str = "attention_mask") -> None:
        if mask is None:
            return
        expected = {2: (seq_len, seq_len), 4: (batch_size, 1, seq_len, seq_len)}.get(mask.dim())
        if expected is None:
            raise ValueError(f"{name} must be either 2D or 4D, got {mask.dim()}D")
        if tuple(mask.shape) != expected:
            raise ValueError(f"{name} with {mask.dim()}D shape must be {expected}, got {mask.shape}")
        if mask.dtype not in (torch.bool, torch.float32, torch.float16, torch.bfloat16):
            raise ValueError(f"{name} must have boolean or float dtype, got {mask.dtype}")

    @staticmethod
    def validate_dropout_prob(dropout: float, name: str = "dropout") -> None:
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name} must be between 0.0 and 1.0, got {dropout}")

    @staticmethod
    def validate_head_dim(embed_dim: int, num_heads: int) -> int:
        """``embed_dim // num_heads``; warns when it is not a multiple of 8 or exceeds 128."""
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        head_dim = embed_dim // num_heads
        if head_dim % 8:
            warnings.warn(f"head_dim ({head_dim}) should be divisible by 8 for optimal performance on modern GPUs",
                          stacklevel=2)
        if head_dim > 128:
            warnings.warn(f"head_dim ({head_dim}) > 128 may result in suboptimal performance", stacklevel=2)
        return head_dim

    @staticmethod
    def validate_num_heads(num_heads: int, num_groups: int) -> None:
        if num_heads < num_groups:
            raise ValueError(f"num_heads ({num_heads}) must be >= num_groups ({num_groups})")


# ---- utils.hilbert_curve --------------------------------------------------------------------

def generate_hilbert_indices(n: int) -> List[int]:
    """Row-major cell indices ``y * 2^n + x`` of a ``2^n x 2^n`` grid in Hilbert-curve order."""
    if n <= 0:
        raise ValueError(f"Number of levels must be positive, got {n}")
    if n > 16:
        raise ValueError(f"Number of levels too large (max 16), got {n}")
    side = 1 << n
    if side * side > 2 ** 31:
        raise ValueError(f"Hilbert curve too large: {side * side} points")
    t = torch.arange(side * side, dtype=torch.int64)
    x = torch.zeros_like(t)
    y = torch.zeros_like(t)
    s = 1
    while s < side:  # one step per level, all points at once
        rx = (t // 2) & 1
        ry = (t ^ rx) & 1
        flip = (ry == 0) & (rx == 1)
        x = torch.where(flip, s - 1 - x, x)
        y = torch.where(flip, s - 1 - y, y)
        x, y = torch.where(ry == 0, y, x), torch.where(ry == 0, x, y)
        x, y = x + s * rx, y + s * ry
        t = t // 4
        s *= 2
    return (y * side + x).tolist()


def generate_hilbert_indices_rectangular(width: int, height: int) -> List[int]:
    """Row-major indices of a ``width x height`` grid sorted by Z-order (Morton) key: bit ``b``
    of ``x`` goes to key bit ``2b``, of ``y`` to ``2b + 1``, for the bits each side needs."""
    if width <= 0 or height <= 0:
        raise ValueError(f"Width and height must be positive, got ({width}, {height})")
    total = width * height
    if total > 2 ** 31:
        raise ValueError(f"Grid too large: {total} points")
    levels = math.ceil(math.log2(max(width, height))) if max(width, height) > 1 else 0
    if levels > 16:
        raise ValueError(f"Grid dimensions too large, requiring {levels} levels (max 16)")
    i = torch.arange(total, dtype=torch.int64)
    x, y = i % width, i // width
    x_bits = min(levels, math.ceil(math.log2(width)) if width > 1 else 0)
    y_bits = min(levels, math.ceil(math.log2(height)) if height > 1 else 0)
    key = torch.zeros_like(i)
    for b in range(max(x_bits, y_bits)):
        if b < x_bits:
            key |= ((x >> b) & 1) << (2 * b)
        if b < y_bits:
            key |= ((y >> b) & 1) << (2 * b + 1)
    return i[torch.sort(key, stable=True).indices].tolist()


# ---- utils.dynamic_segment_selector ---------------------------------------------------------

@dataclass
class SegmentSelectionConfig:
    """Limits and preferences of ``DynamicSegmentSelector``."""

    min_segment_size: int = 512
    max_segment_size: int = 65536
    memory_safety_factor: float = 0.8
    min_free_memory_gb: float = 0.5
    base_segment_size: int = 2048
    geometric_ratio: float = 2.0
    max_num_segments: int = 5
    prefer_power_of_2: bool = True
    align_to_block_size: bool = True
    gpu_block_sizes: Dict[str, int] = None  # type: ignore[assignment]

    def __post_init__(self):
        if self.gpu_block_sizes is None:
            self.gpu_block_sizes = {"H100": 256, "H200": 256, "A100": 128, "A10": 128, "V100": 64, "default": 64}


class MemoryEstimator:
    """Peak memory (GB, 1e9 bytes) of one segment's q/k/v, scores and output, plus 20%."""

    @staticmethod
    def estimate_segment_memory(batch_size: int, segment_length: int, num_heads: int, head_dim: int,
                                dtype: torch.dtype = torch.float32) -> float:
        nbytes = torch.finfo(dtype).bits // 8
        tokens = batch_size * segment_length * num_heads
        total = (4 * tokens * head_dim + tokens * segment_length) * nbytes
        return total * 1.2 / 1e9

    @staticmethod
    def estimate_total_memory(segment_lengths: List[int], batch_size: int, num_heads: int, head_dim: int,
                              dtype: torch.dtype = torch.float32) -> float:
        return max((MemoryEstimator.estimate_segment_memory(batch_size, s, num_heads, head_dim, dtype)
                    for s in segment_lengths), default=0)


class HardwareAnalyzer:
    """Device name, capability and memory (GB, 1e9 bytes); zeros on CPU."""

    @staticmethod
    def get_gpu_info() -> Dict[str, Any]:
        if not torch.cuda.is_available():
            return {"name": "CPU", "compute_capability": (0, 0), "total_memory_gb": 0, "available_memory_gb": 0}
        device = torch.cuda.current_device()
        props = torch.cuda.get_device_properties(device)
        free, _ = torch.cuda.mem_get_info(device)
        return {"name": props.name, "compute_capability": (props.major, props.minor),
                "total_memory_gb": props.total_memory / 1e9, "available_memory_gb": free / 1e9,
                "multiprocessor_count": props.multi_processor_count}

    @staticmethod
    def get_optimal_block_size(gpu_info: Dict[str, Any], config: SegmentSelectionConfig) -> int:
        """The configured size of the first GPU family named in the device name, else by
        compute capability (256 Hopper, 128 Ampere, 64 Volta/Turing, 32 older)."""
        for family, size in config.gpu_block_sizes.items():
            if family in gpu_info["name"]:
                return size
        major = gpu_info["compute_capability"][0]
        return 256 if major >= 9 else 128 if major >= 8 else 64 if major >= 7 else 32


class SequenceAnalyzer:
    @staticmethod
    def analyze_sequence_distribution(sequence_length: int,
                                      content_boundaries: Optional[List[int]] = None) -> Dict[str, Any]:
        """A base segment by length band: min(512, L) up to 2048, 1024 up to 8192, 2048 up to
        32768, else 4096."""
        n = sequence_length
        base = min(512, n) if n <= 2048 else 1024 if n <= 8192 else 2048 if n <= 32768 else 4096
        return {"total_length": n, "is_power_of_2": (n & (n - 1)) == 0, "suggested_base_segment": base,
                "natural_boundaries": content_boundaries or []}


class DynamicSegmentSelector:
    """Segment lengths that fit the free device memory, scored by coverage, diversity and
    count; dilation rates ``1, 2, 4, ...``. Results are cached per (length, batch, heads)."""

    def __init__(self, config: Optional[SegmentSelectionConfig] = None):
        self.config = config or SegmentSelectionConfig()
        self.memory_estimator = MemoryEstimator()
        self.hardware_analyzer = HardwareAnalyzer()
        self.sequence_analyzer = SequenceAnalyzer()
        self._cache: Dict[Tuple[int, int, int], List[int]] = {}

    def select_segments(self, sequence_length: int, batch_size: int, num_heads: int, head_dim: int,
                        dtype: torch.dtype = torch.float32, content_boundaries: Optional[List[int]] = None,
                        force_refresh: bool = False) -> Tuple[List[int], List[int]]:
        key = (sequence_length, batch_size, num_heads)
        if force_refresh or key not in self._cache:
            gpu = self.hardware_analyzer.get_gpu_info()
            safe = max(0, gpu["available_memory_gb"] * self.config.memory_safety_factor - self.config.min_free_memory_gb)
            analysis = self.sequence_analyzer.analyze_sequence_distribution(sequence_length, content_boundaries)
            self._cache[key] = self._select_segments_multi_factor(sequence_length, safe, batch_size, num_heads,
                                                                  head_dim, dtype, gpu, analysis)
        segments = self._cache[key]
        return segments, self._compute_dilation_rates(segments)

    def _select_segments_multi_factor(self, sequence_length: int, safe_memory_gb: float, batch_size: int,
                                      num_heads: int, head_dim: int, dtype: torch.dtype, gpu_info: Dict[str, Any],
                                      seq_analysis: Dict[str, Any]) -> List[int]:
        base = seq_analysis["suggested_base_segment"] or self.config.base_segment_size
        if self.config.align_to_block_size:
            base = self._align_to_multiple(base, self.hardware_analyzer.get_optimal_block_size(gpu_info, self.config))
        if self.config.prefer_power_of_2:
            base = self._nearest_power_of_2(base)
        best, best_score = None, float("-inf")
        for candidate in self._generate_candidate_sequences(base, sequence_length):
            peak = self.memory_estimator.estimate_total_memory(candidate, batch_size, num_heads, head_dim, dtype)
            if peak <= safe_memory_gb:
                score = self._score_segment_sequence(candidate, sequence_length)
                if score > best_score:
                    best, best_score = candidate, score
        return best if best is not None else [min(self.config.min_segment_size, sequence_length)]

    def _generate_candidate_sequences(self, base_segment: int, sequence_length: int) -> List[List[int]]:
        """Geometric ladders (ratios 1.5, 2, 2.5, 3) from the base, then one uniform split."""
        candidates = []
        for ratio in (1.5, 2.0, 2.5, 3.0):
            ladder, current = [], base_segment
            while (len(ladder) < self.config.max_num_segments and current <= sequence_length
                   and current <= self.config.max_segment_size):
                ladder.append(int(current))
                current = int(current * ratio)
                if self.config.prefer_power_of_2:
                    current = self._nearest_power_of_2(current)
            if ladder:
                candidates.append(ladder)
        count = min(4, sequence_length // base_segment)
        if count > 0:
            candidates.append([self._nearest_power_of_2(sequence_length // count)] * count)
        return candidates

    def _score_segment_sequence(self, segments: List[int], sequence_length: int) -> float:
        coverage = min(1.0, max(segments) / sequence_length)
        return coverage * 0.5 + len(set(segments)) / len(segments) * 0.3 + 1.0 / len(segments) * 0.2

    def _compute_dilation_rates(self, segment_lengths: List[int]) -> List[int]:
        return [2 ** i for i in range(len(segment_lengths))]

    @staticmethod
    def _align_to_multiple(value: int, multiple: int) -> int:
        return -(-value // multiple) * multiple

    @staticmethod
    def _nearest_power_of_2(value: int) -> int:
        """The closer of the powers of two around ``value`` (the lower one on ties); 1 for <= 0."""
        if value <= 0:
            return 1
        upper = 1 << (int(value) - 1).bit_length()
        return upper // 2 if upper - value > value - upper // 2 else upper

    def clear_cache(self) -> None:
        self._cache.clear()


# ---- utils.return_standardizer --------------------------------------------------------------

def standardize_attention_output(output, need_weights: bool = False, force_tuple: bool = True):
    """``(out, weights_or_None)`` when ``force_tuple`` or ``need_weights``, else ``out``."""
    if isinstance(output, tuple):
        out, weights = output[0], (output[1] if len(output) > 1 else None)
    else:
        out, weights = output, None
    return (out, weights) if force_tuple or need_weights else out


class MultiheadAttentionWrapper:
    """Calls a module as ``module(query, key, value, need_weights=...)`` and standardises the
    return value; other attributes come from the wrapped module."""

    def __init__(self, attention_module, always_return_tuple: bool = True):
        self.attention_module = attention_module
        self.always_return_tuple = always_return_tuple

    def __call__(self, query: Tensor, key: Tensor, value: Tensor, need_weights: bool = False, **kwargs):
        out = self.attention_module(query, key, value, need_weights=need_weights, **kwargs)
        return standardize_attention_output(out, need_weights=need_weights, force_tuple=self.always_return_tuple)

    def __getattr__(self, name):
        if name == "attention_module":
            raise AttributeError(name)
        return getattr(self.attention_module, name)


# ---- utils.hilbert_attention_mixin ----------------------------------------------------------

class HilbertAttentionMixin:
    """Adds ``create_hilbert_mapping`` ordering (and optionally a ``HilbertAttentionCore``) to
    an attention module: call ``setup_hilbert_attention`` in ``__init__``."""

    def setup_hilbert_attention(self, hidden_dim: int, num_heads: int, segment_size: int = 128,
                                dilation_rate: int = 1, dropout: float = 0.0, use_hilbert_core: bool = False,
                                use_custom_backward: bool = True):
        from .kernels import HilbertAttentionCore

        self._hilbert_cache: Dict[int, Tensor] = {}
        self._inverse_hilbert_cache: Dict[int, Tensor] = {}
        self.use_hilbert_core = use_hilbert_core
        if use_hilbert_core:
            self.hilbert_attention = HilbertAttentionCore(hidden_dim, num_heads, segment_size, dilation_rate, dropout,
                                                          use_custom_backward)

    def get_hilbert_indices(self, seq_len: int, device: torch.device) -> Tensor:
        from .kernels import create_hilbert_mapping

        if not hasattr(self, "_hilbert_cache"):
            self._hilbert_cache, self._inverse_hilbert_cache = {}, {}
        if seq_len not in self._hilbert_cache:
            indices = create_hilbert_mapping(seq_len).to(device)
            inverse = torch.empty_like(indices)
            inverse[indices.long()] = torch.arange(seq_len, device=device, dtype=indices.dtype)
            self._hilbert_cache[seq_len], self._inverse_hilbert_cache[seq_len] = indices, inverse
        return self._hilbert_cache[seq_len]

    def get_inverse_hilbert_indices(self, seq_len: int, device: torch.device) -> Tensor:
        self.get_hilbert_indices(seq_len, device)
        return self._inverse_hilbert_cache[seq_len]

    def apply_hilbert_ordering(self, tensor: Tensor, inverse: bool = False, dim: int = 1) -> Tensor:
        n = tensor.shape[dim]
        indices = (self.get_inverse_hilbert_indices if inverse else self.get_hilbert_indices)(n, tensor.device)
        return torch.index_select(tensor, dim, indices)

    def compute_hilbert_attention(self, q: Tensor, k: Tensor, v: Tensor, use_hilbert_ordering: bool = True,
                                  **kwargs) -> Tensor:
        """Attention in curve order, returned in the original order; with the core module
        only ``q`` is used (the old design: x -> x)."""
        if getattr(self, "use_hilbert_core", False) and hasattr(self, "hilbert_attention"):
            if q.dim() == 4:
                b, n, h, d = q.shape
                return self.hilbert_attention(q.reshape(b, n, h * d), use_hilbert=use_hilbert_ordering).reshape(b, n, h, d)
            return self.hilbert_attention(q, use_hilbert=use_hilbert_ordering)
        attend = getattr(self, "_compute_attention", None) or self._scaled_dot_product_attention
        if not use_hilbert_ordering:
            return attend(q, k, v, **kwargs)
        out = attend(*(self.apply_hilbert_ordering(t) for t in (q, k, v)), **kwargs)
        return self.apply_hilbert_ordering(out, inverse=True)

    def _scaled_dot_product_attention(self, q: Tensor, k: Tensor, v: Tensor, mask: Optional[Tensor] = None,
                                      dropout_p: float = 0.0) -> Tensor:
        """Softmax attention of ``(B, L, H, D)`` or ``(N, L, D)``; ``mask == 0`` is excluded."""
        four_d = q.dim() == 4
        if four_d:
            q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        scores = torch.matmul(q, k.transpose(-2, -1)) / q.shape[-1] ** 0.5
        if mask is not None:
            scores = scores.masked_fill(mask == 0, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if dropout_p > 0 and getattr(self, "training", False):
            weights = torch.dropout(weights, dropout_p, train=True)
        out = torch.matmul(weights, v)
        return out.transpose(1, 2) if four_d else out
