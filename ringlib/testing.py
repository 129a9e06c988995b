"""Numerical tolerance in the flash-attention style, for ringlib's tests and users' suites.

A low-precision result is judged against the float64 reference by comparison with the
error that a plain PyTorch computation of the same definition makes in the same
precision: ``err(tested) <= k * err(plain) + floor * max(1, |reference|_max)``. A fixed ``atol`` would be either too
loose for float32 or too tight for bfloat16; this rule scales with the precision itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: Multiple of the plain computation's error the tested path may make (flash-attn uses 2).
K_FACTOR = 4.0
#: Absolute floor per dtype (covers outputs that are exactly representable in both).
FLOOR = {torch.float64: 1e-12, torch.float32: 1e-5, torch.bfloat16: 1e-3, torch.float16: 1e-4}


@dataclass(frozen=True)
class Comparison:
    tested_error: float
    plain_error: float
    bound: float

    @property
    def ok(self) -> bool:
        return self.tested_error <= self.bound

    def __str__(self) -> str:
        return (f"tested error {self.tested_error:.3e} vs bound {self.bound:.3e} "
                f"(plain low-precision error {self.plain_error:.3e})")


def bound(plain_error: float, reference: torch.Tensor, dtype: torch.dtype, k: float = K_FACTOR,
          floor: float | None = None) -> float:
    """``k * plain_error + floor * max(1, |reference|_max)``: the floor keeps exactly
    representable results from demanding bit equality and scales with the quantity's size,
    so that one rule serves outputs and gradients."""
    scale = max(1.0, reference.detach().abs().max().item()) if reference.numel() else 1.0
    return k * plain_error + (FLOOR.get(dtype, 1e-6) if floor is None else floor) * scale


def compare(tested: torch.Tensor, plain: torch.Tensor, reference: torch.Tensor,
            k: float = K_FACTOR, floor: float | None = None) -> Comparison:
    """Errors of ``tested`` and ``plain`` (same low precision) against ``reference``."""
    ref = reference.detach().double().cpu()
    tested_err = (tested.detach().double().cpu() - ref).abs().max().item() if tested.numel() else 0.0
    plain_err = (plain.detach().double().cpu() - ref).abs().max().item() if plain.numel() else 0.0
    return Comparison(tested_err, plain_err, bound(plain_err, ref, tested.dtype, k, floor))


def assert_close_to_reference(tested, plain, reference, k: float = K_FACTOR, floor: float | None = None,
                              what: str = "output") -> Comparison:
    result = compare(tested, plain, reference, k, floor)
    if torch.isnan(tested).any():
        raise AssertionError(f"{what}: NaN in the tested result")
    if not result.ok:
        raise AssertionError(f"{what}: {result}")
    return result
