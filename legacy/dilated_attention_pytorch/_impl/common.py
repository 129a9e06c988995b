"""What every shim class shares: old device/dtype defaults, world size, input casting."""

from __future__ import annotations

import warnings

import torch
import torch.distributed as dist

from ringlib.orderings import snake


def cuda_if_available() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device) -> torch.device:
    """``None`` -> cuda if available (the old classes' default); ``str`` accepted."""
    return cuda_if_available() if device is None else torch.device(device)


def optimal_a(device: torch.device) -> torch.dtype:
    """The old OPTIMAL_A dtype default: bf16 on Ampere/Hopper, fp16 on Volta/Turing, fp32 otherwise."""
    if device.type != "cuda":
        return torch.float32
    major, _ = torch.cuda.get_device_capability(device)
    if major < 7:
        return torch.float32
    if major >= 8 and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def optimal_b(device: torch.device) -> torch.dtype:
    """The old OPTIMAL_B dtype default: fp16 on every GPU from sm70, fp32 otherwise."""
    if device.type != "cuda":
        return torch.float32
    major, _ = torch.cuda.get_device_capability(device)
    return torch.float16 if major >= 7 else torch.float32


def world() -> tuple[int, int]:
    """``(world_size, rank)``, read once at construction."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def param_dtype(module: torch.nn.Module, fallback: torch.dtype = torch.float32) -> torch.dtype:
    for p in module.parameters():
        return p.dtype
    return fallback


def core_config(config, dim, heads, segment_lengths, dilation_rates, ring_size, dropout) -> tuple:
    """The old duck-typed ``config`` (``RingAttentionConfig`` and alikes): when given, its
    ``dim, heads, segment_lengths, dilation_rates, ring_size, dropout`` replace the keyword
    arguments of the same names, which come back unchanged otherwise."""
    if config is None:
        return dim, heads, segment_lengths, dilation_rates, ring_size, dropout
    return (config.dim, config.heads, config.segment_lengths, config.dilation_rates, config.ring_size,
            config.dropout)


def warn_ignored(what: str) -> None:
    """A preserved legacy quirk silently ignores an argument the caller passed."""
    warnings.warn(f"{what} (as in dilated_attention_pytorch 0.2)", UserWarning, stacklevel=3)


class SnakeIndices:
    """The old ``HilbertAttentionMixin`` helpers: the SNAKE ordering."""

    def get_hilbert_indices(self, seq_len: int, device=None) -> torch.Tensor:
        return torch.tensor(snake(seq_len), dtype=torch.int32, device=device)

    def get_inverse_hilbert_indices(self, seq_len: int, device=None) -> torch.Tensor:
        return self.get_hilbert_indices(seq_len, device)  # SNAKE is an involution

    def apply_hilbert_ordering(self, tensor: torch.Tensor, inverse: bool = False, dim: int = 1) -> torch.Tensor:
        index = self.get_hilbert_indices(tensor.shape[dim], tensor.device).long()
        return tensor.index_select(dim, index)
