"""Seeded dropout of attention probabilities, defined by position rather than by call order.

Whether probability ``(b, h, i, j)`` is kept is a pure function of ``(seed, b, h, i, j)``
(``i``, ``j`` global query and key positions of the whole sequence): a counter-based hash, so
that every rank of a ring draws exactly the entries of its own tiles, in any order, and
one process and any number of ranks drop the same entries. ``torch.nn.functional.dropout``
cannot do this: its mask depends on the shape and order of the tensors it is called on.

The hash is 32-bit integer mixing (xor-shift-multiply rounds with odd multipliers below
2**31) done in int64 torch ops with explicit masking to 32 bits, so no product overflows
and the bits are the same on every device. An entry is kept where its hash is at least
``round(p * 2**32)``; kept entries are scaled by ``1 / (1 - p)``.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor

_MASK = 0xFFFFFFFF
_M1, _M2 = 0x7FEB352D, 0x68E31DA5  # odd multipliers < 2**31: products stay below 2**63
SEED_LIMIT = 2**63
"""Seeds are ints in ``[0, SEED_LIMIT)``."""


def check_seed(seed) -> None:
    """Raise a clear error for a seed that is not an int in ``[0, 2**63)`` (None passes)."""
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"dropout_seed must be an int in [0, 2**63) or None, got {type(seed).__name__}")
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"dropout_seed must be in [0, 2**63), got {seed!r}")


def draw_seed() -> int:
    """A seed from torch's default generator: ranks seeded alike (``torch.manual_seed``) draw
    the same one; each call draws a new one, like each call of ``dropout`` draws a new mask."""
    return int(torch.randint(0, 2**62, (), dtype=torch.int64))


def _mix(x: Tensor) -> Tensor:
    """One bijective mixing round of 32-bit values held in int64."""
    x = x ^ (x >> 16)
    x = (x * _M1) & _MASK
    x = x ^ (x >> 15)
    x = (x * _M2) & _MASK
    return x ^ (x >> 16)


def keep(seed: int, batch: int, heads: Tensor, rows: Tensor, keys: Tensor, p: float) -> Tensor:
    """Booleans ``(batch, len(heads), len(rows), len(keys))``: entries kept by dropout of rate
    ``p`` for the given global head indices and query / key positions (1-D long tensors on
    the device of the result)."""
    device = rows.device
    to = dict(dtype=torch.int64, device=device)
    lo, hi = torch.tensor([seed & _MASK, (seed >> 32) & _MASK], **to)
    h = _mix(lo ^ _mix(hi))  # the seed
    h = _mix(h ^ torch.arange(batch, **to).view(-1, 1, 1))  # (b, 1, 1)
    h = _mix(h ^ heads.to(**to).view(1, -1, 1))  # (b, H, 1)
    h = _mix(h ^ (rows.to(**to) & _MASK).view(1, 1, -1))  # (b, H, rows)
    h = _mix(_mix(h.unsqueeze(-1) ^ (keys.to(**to) & _MASK)))  # (b, H, rows, keys)
    return h >= round(p * 2**32)


def multiplier(seed: int, batch: int, heads: Tensor, rows: Tensor, keys: Tensor, p: float,
               dtype: torch.dtype) -> Tensor:
    """``keep(...) / (1 - p)`` as ``dtype``: what the probabilities are multiplied by."""
    kept = keep(seed, batch, heads, rows, keys, p)
    return kept.to(dtype) * (1.0 / (1.0 - p))
