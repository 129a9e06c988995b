"""Checks of the arguments of an attention call, shared by the single-process and ring entry
points: each bad argument is a clear error naming the argument and the rule."""

from __future__ import annotations

import math

import torch

from ringlib.cores import AttentionCore
from ringlib.dispatch import BACKENDS
from ringlib.dropout import check_seed
from ringlib.patterns import Pattern


def validate(q, k, v, pattern, *, causal, scale, dropout_p, backend, world: int = 1, dropout_seed=None) -> None:
    """Raise a clear error naming the argument and the rule (``world``: ranks sharing the
    sequence, each holding ``q.shape[1]`` rows of it)."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 4:
            raise ValueError(f"{name} must have shape (batch, seq, heads, head_dim), got {tuple(t.shape)}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"q, k, v must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if not (q.device == k.device == v.device):
        raise ValueError(f"q, k, v must be on one device, got {q.device}, {k.device}, {v.device}")
    for dim, what in ((0, "batch"), (2, "heads"), (3, "head_dim")):
        sizes = (q.shape[dim], k.shape[dim], v.shape[dim])
        if len(set(sizes)) != 1:
            raise ValueError(f"q, k, v must have equal {what} (dim {dim}), got {sizes}")
    if k.shape[1] != v.shape[1]:
        raise ValueError(f"k and v must have the same sequence length, got {k.shape[1]} and {v.shape[1]}")
    if q.shape[1] != k.shape[1]:
        raise ValueError(
            f"q and k must have the same sequence length for self-attention patterns, got "
            f"{q.shape[1]} and {k.shape[1]}"
        )
    if q.shape[2] < 1 or q.shape[3] < 1 or q.shape[0] < 1:
        raise ValueError(f"q must have batch, heads, head_dim >= 1, got {tuple(q.shape)}")
    if not isinstance(pattern, (Pattern, AttentionCore)):
        raise TypeError(
            f"pattern must be a ringlib pattern (ringlib.Dense(), ringlib.Dilated(...), "
            f"ringlib.BlockSparse(...)) or an attention core (ringlib.AttentionCore), got {type(pattern).__name__}"
        )
    if not isinstance(causal, bool):
        raise TypeError(f"causal must be a bool, got {type(causal).__name__}")
    if scale is not None and not (_is_number(scale) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite number or None, got {scale!r}")
    if not _is_number(dropout_p):
        raise TypeError(f"dropout_p must be a number in [0, 1), got {type(dropout_p).__name__}")
    if not (0.0 <= dropout_p < 1.0):
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p!r}")
    check_seed(dropout_seed)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if q.shape[1] > 0:
        pattern.validate(q.shape[1] * world, q.shape[2])


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
