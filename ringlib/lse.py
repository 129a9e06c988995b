"""Log-sum-exp merging of partial attention results (the one utility every path shares).

A partial result ``(o, lse)`` is attention normalised over a subset of keys and the
log-sum-exp of its scores. Merging two partial results over disjoint key sets gives the
attention over their union:

    L = logaddexp(lse_a, lse_b);  o = o_a * exp(lse_a - L) + o_b * exp(lse_b - L)

Rows where both sides are empty (``lse = -inf``) stay ``o = 0, lse = -inf``: never NaN.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def merge_(acc_o: Tensor, acc_lse: Tensor, o: Tensor, lse: Tensor, *, consume: bool = False) -> None:
    """Merge ``(o, lse)`` into the accumulators in place (``o``: ``(..., d)``, ``lse``: ``(...)``).

    Accumulators are float32/float64 tensors or strided views of them. No temporaries the
    size of ``o`` beyond one scaled copy of it; ``consume=True`` says the caller gives ``o``
    up (a kernel output), which is then scaled in place instead.
    """
    lse = lse.to(acc_lse.dtype)
    new_lse = torch.logaddexp(acc_lse, lse)
    finite = torch.isfinite(new_lse)
    safe = torch.where(finite, new_lse, torch.zeros_like(new_lse))
    w_acc = torch.where(finite, torch.exp(acc_lse - safe), torch.zeros_like(safe))
    w_new = torch.where(finite, torch.exp(lse - safe), torch.zeros_like(safe)).unsqueeze(-1)
    o = o.to(acc_o.dtype)
    acc_o.mul_(w_acc.unsqueeze(-1))
    acc_o.add_(o.mul_(w_new) if consume else o * w_new)
    acc_lse.copy_(new_lse)


def merge(o_a: Tensor, lse_a: Tensor, o_b: Tensor, lse_b: Tensor) -> tuple[Tensor, Tensor]:
    """Out-of-place merge of two partial results (differentiable)."""
    new_lse = torch.logaddexp(lse_a, lse_b)
    finite = torch.isfinite(new_lse)
    safe = torch.where(finite, new_lse, torch.zeros_like(new_lse))
    w_a = torch.where(finite, torch.exp(lse_a - safe), torch.zeros_like(safe)).unsqueeze(-1)
    w_b = torch.where(finite, torch.exp(lse_b - safe), torch.zeros_like(safe)).unsqueeze(-1)
    return o_a * w_a + o_b * w_b, new_lse
