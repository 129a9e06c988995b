"""Orderings: permutations applied to q, k, v inside each segment of a pattern.

An ordering maps a segment length ``m`` to a permutation ``P`` of ``range(m)``: the token at
permuted row ``t`` is the token at original offset ``P[t]``. Position-dependent rules of a
pattern (dilation residues, key strides) apply to permuted rows; causal masks always apply
to original positions. Permutations are cached per (ordering, length, device).
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Union

import torch

Ordering = Union[None, str, Callable[[int], "torch.Tensor | list[int]"]]


def hilbert(m: int) -> list[int]:
    """A true Hilbert curve: the ``m`` positions laid row-major on the smallest ``2^k x 2^k``
    grid holding them, visited in Hilbert-curve order (cells ``>= m`` skipped)."""
    side = 1
    while side * side < m:
        side *= 2
    order: list[int] = []
    for d in range(side * side):
        x, y = _hilbert_d2xy(side, d)
        cell = y * side + x
        if cell < m:
            order.append(cell)
    return order


def _hilbert_d2xy(side: int, d: int) -> tuple[int, int]:
    """Map a distance along the Hilbert curve of a ``side x side`` grid to (x, y)."""
    x = y = 0
    s, t = 1, d
    while s < side:
        rx = 1 & (t // 2)
        ry = 1 & (t ^ rx)
        if ry == 0:
            if rx == 1:
                x, y = s - 1 - x, s - 1 - y
            x, y = y, x
        x += s * rx
        y += s * ry
        t //= 4
        s *= 2
    return x, y


def snake(m: int) -> list[int]:
    """The legacy package's "Hilbert" ordering: rows of width ceil(sqrt(m)),
    odd rows reversed within their extent; identity for ``m <= 64``."""
    if m <= 64:
        return list(range(m))
    g = math.isqrt(m)
    if g * g < m:
        g += 1
    order: list[int] = []
    for row, start in enumerate(range(0, m, g)):
        cells = list(range(start, min(start + g, m)))
        order.extend(reversed(cells) if row % 2 else cells)
    return order


_NAMED: dict[str, Callable[[int], list[int]]] = {"hilbert": hilbert, "snake": snake}


def validate_ordering(ordering: Ordering) -> None:
    if ordering is None or callable(ordering):
        return
    if isinstance(ordering, str) and ordering in _NAMED:
        return
    raise ValueError(
        f"ordering must be None, one of {sorted(_NAMED)} or a callable m -> permutation; "
        f"got {ordering!r}"
    )


@functools.lru_cache(maxsize=256)
def _cached(ordering: Ordering, m: int, device: torch.device) -> torch.Tensor | None:
    fn = _NAMED[ordering] if isinstance(ordering, str) else ordering
    perm = torch.as_tensor(fn(m), dtype=torch.long)
    if perm.shape != (m,) or not torch.equal(torch.sort(perm).values, torch.arange(m)):
        raise ValueError(f"ordering {ordering!r} returned no permutation of range({m})")
    if torch.equal(perm, torch.arange(m)):
        return None  # identity: callers skip the gather entirely
    return perm.to(device)


def permutation(ordering: Ordering, m: int, device: torch.device) -> torch.Tensor | None:
    """The permutation of a segment of length ``m``, or None where it is the identity."""
    if ordering is None or m <= 1:
        return None
    return _cached(ordering, m, torch.device(device))
