"""Feature flags and hardware queries of 0.2 (``core.constants``, ``utils.gpu_utils``,
``utils.flash_attention_utils``, ``utils.flash_attention_3_utils``).

Flags say whether a package is installed (``importlib.util.find_spec``: nothing heavy is
imported to answer). Hardware queries are ``torch.cuda`` calls guarded for CPU. Attention
entry points run on PyTorch's SDPA (every backend the old code chose computes the same
softmax attention); recommendations are only advice and never change results.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn.functional as F


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


TORCH_VERSION = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2])
HAS_SDPA = hasattr(F, "scaled_dot_product_attention")
HAS_SDPA_KERNEL = hasattr(torch.backends.cuda, "enable_flash_sdp")
HAS_FLASH_ATTN = _installed("flash_attn")
HAS_FLASH = HAS_FLASH_ATTN
HAS_FLASH_ATTN_3 = HAS_FLASH_ATTN and _installed("flash_attn_interface")
FLASH_ATTN_VERSION = (_version("flash-attn") or "0.0.0") if HAS_FLASH_ATTN else None
HAS_XFORMERS = _installed("xformers")
XFORMERS_VERSION = _version("xformers") if HAS_XFORMERS else None
HAS_DEEPSPEED = _installed("deepspeed")
DEEPSPEED_VERSION = _version("deepspeed") if HAS_DEEPSPEED else None
HAS_FAIRSCALE = _installed("fairscale")
FAIRSCALE_VERSION = _version("fairscale") if HAS_FAIRSCALE else None
HAS_APEX = _installed("apex")
APEX_VERSION = (_version("apex") or "0.0.0") if HAS_APEX else None

_GPU_NAMES = (("h100", "h100"), ("a100", "a100"), ("v100", "v100"), ("mi300", "amd_instinct"),
              ("mi250", "amd_instinct"), ("rtx 4090", "rtx_40xx"), ("rtx 4080", "rtx_40xx"),
              ("rtx 3090", "rtx_30xx"), ("rtx 3080", "rtx_30xx"))


def detect_gpu_type() -> str:
    """``"cpu"``, a known family (``"h100"``, ``"a100"``, ...) or ``"generic_cuda"``."""
    if not torch.cuda.is_available():
        return "cpu"
    name = torch.cuda.get_device_name(0).lower()
    return next((family for key, family in _GPU_NAMES if key in name), "generic_cuda")


class _GPUType(str):
    """``GPU_TYPE``: compares and prints as ``detect_gpu_type()``."""

    def __new__(cls):
        return super().__new__(cls, detect_gpu_type())


GPU_TYPE = _GPUType()

OPTIMAL_SETTINGS: dict[str, dict[str, Any]] = {
    "h100": {"use_flash_attn": True, "use_tf32": True, "block_size": 2048, "max_seq_len": 1_000_000},
    "a100": {"use_flash_attn": True, "use_tf32": True, "block_size": 1024, "max_seq_len": 100_000},
    "v100": {"use_flash_attn": False, "use_tf32": False, "block_size": 512, "max_seq_len": 50_000},
    "generic_cuda": {"use_flash_attn": HAS_FLASH_ATTN, "use_tf32": True, "block_size": 512, "max_seq_len": 32_768},
    "cpu": {"use_flash_attn": False, "use_tf32": False, "block_size": 256, "max_seq_len": 8192},
}


def get_current_optimal_settings() -> dict:
    """The settings row of this machine's GPU family."""
    return OPTIMAL_SETTINGS.get(detect_gpu_type(), OPTIMAL_SETTINGS["generic_cuda"])


CURRENT_OPTIMAL_SETTINGS: dict[str, Any] = dict(get_current_optimal_settings())


# ---- utils.gpu_utils -------------------------------------------------------------------------

def get_gpu_compute_capability(device: torch.device) -> Optional[Tuple[int, int]]:
    """``(major, minor)`` of a CUDA device; None elsewhere."""
    if torch.device(device).type != "cuda" or not torch.cuda.is_available():
        return None
    return tuple(torch.cuda.get_device_capability(device))  # type: ignore[return-value]


def is_pascal_or_older(device: torch.device) -> bool:
    cap = get_gpu_compute_capability(device)
    return cap is not None and cap[0] < 7


def get_optimal_dtype(device: torch.device, prefer_fp16: bool = True, warn_pascal: bool = True) -> torch.dtype:
    """float32 off CUDA and on Pascal or older; float16 on newer GPUs when ``prefer_fp16``."""
    cap = get_gpu_compute_capability(device)
    if cap is None:
        return torch.float32
    if cap[0] < 7:
        if prefer_fp16 and warn_pascal:
            warnings.warn(f"GPU {torch.cuda.get_device_name(device)} (compute {cap[0]}.{cap[1]}) has limited FP16 "
                          "performance; using FP32", RuntimeWarning, stacklevel=2)
        return torch.float32
    return torch.float16 if prefer_fp16 else torch.float32


def warn_suboptimal_dtype(device: torch.device, dtype: torch.dtype) -> None:
    """A RuntimeWarning for half precision on Pascal or fp32 on tensor-core GPUs."""
    cap = get_gpu_compute_capability(device)
    if cap is None:
        return
    name = torch.cuda.get_device_name(device)
    if cap[0] < 7 and dtype in (torch.float16, torch.bfloat16):
        warnings.warn(f"Using {dtype} on Pascal GPU {name} may result in poor performance; consider "
                      "torch.float32", RuntimeWarning, stacklevel=2)
    elif cap[0] >= 7 and dtype == torch.float32:
        warnings.warn(f"GPU {name} supports efficient FP16; consider torch.float16", RuntimeWarning, stacklevel=2)


@dataclass
class GPUInfo:
    """What is known about one device."""

    device: torch.device
    name: str = ""
    compute_capability: Tuple[int, int] = (0, 0)
    architecture: str = "unknown"
    total_memory_gb: float = 0.0
    available_memory_gb: float = 0.0
    memory_bandwidth_gbps: float = 0.0
    cuda_cores: int = 0
    tensor_cores: bool = False
    fp16_performance_tflops: float = 0.0
    fp32_performance_tflops: float = 0.0
    supports_fp8: bool = False
    supports_bf16: bool = False
    has_flash_attn: bool = False
    has_flash_attn_2: bool = False
    has_flash_attn_3: bool = False
    has_xformers: bool = False
    has_sdpa: bool = False
    recommended_backend: str = "manual"
    optimal_dtype: torch.dtype = torch.float32
    optimal_block_size: int = 128
    optimal_num_warps: int = 4
    backend_benchmarks: Dict[str, float] = field(default_factory=dict)


_ARCH = {6: "pascal", 7: "volta", 8: "ampere", 9: "hopper"}


class GPUDetector:
    """Device facts, cached per device (one shared instance, as before)."""

    _instance: Optional["GPUDetector"] = None
    _gpu_info_cache: Dict[str, GPUInfo] = {}

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def get_gpu_info(self, device: Optional[torch.device] = None) -> GPUInfo:
        device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
        key = str(device)
        if key not in self._gpu_info_cache:
            self._gpu_info_cache[key] = self._probe(device)
        return self._gpu_info_cache[key]

    @staticmethod
    def _probe(device: torch.device) -> GPUInfo:
        info = GPUInfo(device=device, has_sdpa=HAS_SDPA)
        cap = get_gpu_compute_capability(device)
        if cap is None:
            info.name, info.architecture = "CPU", "cpu"
            info.recommended_backend = "sdpa" if HAS_SDPA else "manual"
            return info
        props = torch.cuda.get_device_properties(device)
        free, total = torch.cuda.mem_get_info(device)
        info.name, info.compute_capability = props.name, cap
        info.architecture = _ARCH.get(cap[0], "future" if cap[0] > 9 else "legacy")
        info.total_memory_gb, info.available_memory_gb = total / 1024**3, free / 1024**3
        info.tensor_cores, info.supports_bf16, info.supports_fp8 = cap[0] >= 7, cap[0] >= 8, cap[0] >= 9
        info.has_flash_attn = info.has_flash_attn_2 = HAS_FLASH_ATTN and cap[0] >= 8
        info.has_flash_attn_3 = HAS_FLASH_ATTN_3 and cap[0] >= 9
        info.has_xformers = HAS_XFORMERS
        info.recommended_backend = ("flash_attn_3" if info.has_flash_attn_3 else "flash_attn_2" if info.has_flash_attn
                                    else "xformers" if HAS_XFORMERS else "sdpa")
        info.optimal_dtype = get_optimal_dtype(device, warn_pascal=False)
        return info

    def select_backend_for_config(self, device: Optional[torch.device] = None, seq_len: int = 1024,
                                  has_custom_mask: bool = False, is_causal: bool = False,
                                  use_dilation: bool = False) -> str:
        info = self.get_gpu_info(device)
        if has_custom_mask or use_dilation:
            return "xformers" if info.has_xformers else "sdpa_with_mask" if info.has_sdpa else "manual"
        return "manual" if seq_len < 128 else info.recommended_backend

    def benchmark_backends(self, device: Optional[torch.device] = None, batch_size: int = 1, seq_len: int = 1024,
                           num_heads: int = 8, head_dim: int = 64, warmup_iters: int = 10,
                           bench_iters: int = 100) -> Dict[str, float]:
        """Milliseconds per call of the backends available here (SDPA and plain matmul softmax)."""
        device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
        q, k, v = (torch.randn(batch_size, num_heads, seq_len, head_dim, device=device) for _ in range(3))
        manual = lambda: torch.softmax(q @ k.transpose(-1, -2) * head_dim ** -0.5, -1) @ v  # noqa: E731
        runs = {"manual": manual}
        if HAS_SDPA:
            runs["sdpa"] = lambda: F.scaled_dot_product_attention(q, k, v)
        times = {}
        for name, fn in runs.items():
            for _ in range(warmup_iters):
                fn()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            for _ in range(bench_iters):
                fn()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times[name] = (time.perf_counter() - start) * 1000 / max(bench_iters, 1)
        return times


def get_gpu_info(device: Optional[torch.device] = None) -> GPUInfo:
    return GPUDetector().get_gpu_info(device)


def select_attention_backend_for_gpu(device: Optional[torch.device] = None, seq_len: int = 1024,
                                     has_custom_mask: bool = False, is_causal: bool = False,
                                     use_dilation: bool = False) -> str:
    """``utils.gpu_utils.select_attention_backend`` (``utils.select_gpu_attention_backend``)."""
    return GPUDetector().select_backend_for_config(device, seq_len, has_custom_mask, is_causal, use_dilation)


def benchmark_attention_backends(device: Optional[torch.device] = None, batch_size: int = 1, seq_len: int = 1024,
                                 num_heads: int = 8, head_dim: int = 64) -> Dict[str, float]:
    return GPUDetector().benchmark_backends(device, batch_size, seq_len, num_heads, head_dim)


# ---- utils.flash_attention_utils -------------------------------------------------------------

def get_flash_attention_support(device: torch.device) -> dict:
    """Flash-attention facts of a device; off CUDA every flag is False and the backend "standard"."""
    support = {"has_flash_attn": False, "has_flash_attn_2": False, "has_flash_attn_3": False, "has_xformers": False,
               "recommended_backend": "standard", "gpu_architecture": None, "compute_capability": None,
               "supports_fp8": False}
    info = get_gpu_info(device)
    if info.architecture == "cpu":
        return support
    support.update(has_flash_attn=info.has_flash_attn, has_flash_attn_2=info.has_flash_attn_2,
                   has_flash_attn_3=info.has_flash_attn_3, has_xformers=info.has_xformers,
                   recommended_backend=info.recommended_backend, gpu_architecture=info.architecture,
                   compute_capability=info.compute_capability, supports_fp8=info.supports_fp8)
    return support


def select_attention_backend(device: torch.device, seq_len: int, is_causal: bool = False,
                             has_custom_mask: bool = False) -> str:
    """``utils.flash_attention_utils.select_attention_backend``: "standard" off CUDA."""
    support = get_flash_attention_support(device)
    if has_custom_mask and support["recommended_backend"].startswith("flash"):
        return "xformers" if support["has_xformers"] else "sdpa"
    return support["recommended_backend"]


def flash_attention_forward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout_p: float = 0.0,
                            is_causal: bool = False, backend: Optional[str] = None) -> torch.Tensor:
    """Softmax attention of ``(batch, seq, heads, head_dim)`` tensors (SDPA; same result as
    every old backend)."""
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                         dropout_p=dropout_p, is_causal=is_causal)
    return out.transpose(1, 2)


def chunked_flash_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, chunk_size: int = 2048,
                            dropout_p: float = 0.0, is_causal: bool = False) -> torch.Tensor:
    """Attention computed query-chunk by chunk to bound memory; equal to the unchunked result."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    n = q.shape[1]
    outs = []
    for start in range(0, n, chunk_size):
        qc = q[:, start:start + chunk_size].transpose(1, 2)
        mask = None
        if is_causal:
            rows = torch.arange(start, start + qc.shape[2], device=q.device)[:, None]
            mask = torch.arange(k.shape[1], device=q.device)[None, :] <= rows
        outs.append(F.scaled_dot_product_attention(qc, k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask,
                                                   dropout_p=dropout_p).transpose(1, 2))
    return torch.cat(outs, dim=1) if outs else q.new_empty(q.shape[:-1] + v.shape[-1:])


# ---- utils.flash_attention_3_utils -----------------------------------------------------------

def get_flash_attention_version() -> str:
    """The installed flash-attn version, or "not available"."""
    return FLASH_ATTN_VERSION if HAS_FLASH_ATTN else "not available"


def is_flash_attention_3_available() -> bool:
    return HAS_FLASH_ATTN_3 and torch.cuda.is_available() and torch.cuda.get_device_capability()[0] >= 9


def get_fa3_config(seq_len: int, num_heads: int, head_dim: int, use_fp8: bool = False,
                   enable_async: bool = True) -> dict[str, Any]:
    """Kernel hints for flash-attention 3 (advice only: results do not depend on them)."""
    return {"seq_len": seq_len, "num_heads": num_heads, "head_dim": head_dim,
            "use_fp8": bool(use_fp8 and is_flash_attention_3_available()),
            "enable_async": bool(enable_async and is_flash_attention_3_available()),
            "block_size": 128 if seq_len >= 2048 else 64, "available": is_flash_attention_3_available()}


def apply_fa3_optimization(module: torch.nn.Module, seq_len: int, use_fp8: bool = False) -> None:
    """Store the FA3 hints on ``module`` (``module.fa3_config``); computation is unchanged."""
    heads = getattr(module, "num_heads", 8)
    head_dim = getattr(module, "head_dim", 64)
    module.fa3_config = get_fa3_config(seq_len, heads, head_dim, use_fp8)


def benchmark_fa3_vs_fa2(batch_size: int = 2, seq_len: int = 8192, num_heads: int = 8, head_dim: int = 64,
                         num_runs: int = 100) -> dict[str, float]:
    """Milliseconds per call of the attention backends available here."""
    return benchmark_attention_backends(None, batch_size, seq_len, num_heads, head_dim)


def create_fa3_block_sparse_mask(seq_len: int, block_size: int = 128, sparsity_ratio: float = 0.9,
                                 pattern_type: str = "dilated_sparse", device: torch.device | None = None):
    """Bool block mask ``[blocks, blocks]`` keeping ``1 - sparsity_ratio`` of the block pairs,
    laid out by ``SparsePatternGenerator`` with ``pattern_type``."""
    from .patterns import PatternConfig, PatternType, SparsePatternGenerator

    config = PatternConfig(pattern_type=PatternType(pattern_type), sparsity_ratio=1.0 - sparsity_ratio,
                           block_size=block_size, enable_caching=False)
    return SparsePatternGenerator(config).generate_pattern(seq_len, 1, device or torch.device("cpu"))[0]


#: ``core.HAS_OPTIMIZED_CACHE`` / ``utils.HAS_FLASH_UTILS``: the optional modules always import.
HAS_OPTIMIZED_CACHE = True
HAS_FLASH_UTILS = True
