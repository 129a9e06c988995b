"""The tolerance rule of ``ringlib parity`` (flash-attention's rule).

A path computed in a low precision is compared with the float64 reference, and its error is
held to the error that a *plain* PyTorch computation of the same definition makes in the
same precision (the reference backend run in that dtype):

    err(tested) <= K * err(plain) + FLOOR[dtype] * max(1, |reference|_max)

* ``K = 4``: flash-attn's tests use 2 for their own kernels; ringlib's fused paths mix
  float32 accumulation with outputs in the low precision and LSE merges across parts, so
  they may round a little differently from the plain computation without being wrong.
  A planted relative perturbation of 1e-3 is still ~700x over the float32 bound.
* The floor keeps exactly representable results (where the plain error is 0, e.g. float64
  against itself) from demanding bit equality; it scales with the quantity's magnitude so
  that one rule serves outputs (O(1)) and parameter gradients (sums over batch and sequence).
"""

from __future__ import annotations

import torch

from ringlib.testing import FLOOR, K_FACTOR, bound  # noqa: F401  (the one rule, re-exported)

K = K_FACTOR


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.numel() == 0:
        return 0.0
    diff = (a.detach().double().cpu() - b.detach().double().cpu()).abs()
    if torch.isnan(diff).any():
        return float("inf")
    return diff.max().item()


def judge(tested: torch.Tensor, plain: torch.Tensor, reference: torch.Tensor, dtype: torch.dtype,
          k: float = K) -> tuple[bool, float, float, float]:
    """``(ok, tested_error, plain_error, bound)``; NaN or a shape mismatch never passes."""
    if tested.shape != reference.shape:
        return False, float("inf"), float("nan"), 0.0
    tested_error = max_abs(tested, reference)
    plain_error = max_abs(plain, reference)
    limit = bound(plain_error, reference, dtype, k)
    return tested_error <= limit, tested_error, plain_error, limit
