"""Attention cores: computations that take a pattern's place but are not one.

A pattern is a set of query-key masks over the sequence, one per head, and ``ringlib.attention``
plans and dispatches it. A few computations that older code produced cannot be written that way
(they attend across the heads at one position, or choose their segments at each call); an
``AttentionCore`` is such a computation. It goes wherever a pattern goes (``ringlib.attention``,
``ringlib.DilatedAttention``, ``ringlib.MultiheadAttention``, ...): after the common argument
checks, ``ringlib.attention`` hands the call to its ``attend``, which does its own work with
ringlib's kernels. The cores that exist live in ``ringlib.compat``.
"""

from __future__ import annotations

import torch

from ringlib.orderings import Ordering

Tensor = torch.Tensor


class AttentionCore:
    """Base class of the computations that stand in for a pattern (see the module docstring)."""

    def validate(self, n: int, heads: int) -> None:
        """Raise ValueError where the core cannot apply to ``n`` tokens and ``heads``."""

    def attend(self, q: Tensor, k: Tensor, v: Tensor, *, causal: bool, scale: float | None, ordering: Ordering,
               dropout_p: float, dropout_seed: int | None, group, backend: str, layout: str) -> Tensor:
        """The output for ``(batch, seq, heads, head_dim)`` q, k, v (arguments already checked
        by ``ringlib.attention``, which calls this)."""
        raise NotImplementedError
