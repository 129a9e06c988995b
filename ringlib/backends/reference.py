"""The reference backend: the ground truth every other path is tested against.

Plain PyTorch, written for readability, O(n^2) memory, float64-capable. It takes the
pattern's parts as explicit boolean masks built straight from the definition
(``Pattern.reference_parts``), never from the plans the fast backends execute:

    for every part p and head h in p:  o_p, lse_p = masked softmax attention over p's keys
    combine "lse":  out = sum_p softmax_p(lse_p) * o_p   over the parts covering (i, h)
    combine "sum":  out = sum_p weight_p * o_p

Causal masking applies to original positions; a row without any visible key contributes
nothing (never NaN). Dropout (training) acts on each part's probabilities: torch's dropout,
or with a ``dropout_seed`` the position-hash mask of ``ringlib.dropout`` (the entries ring
attention drops at any world size).
"""

from __future__ import annotations

import torch

from ringlib.dropout import multiplier
from ringlib.orderings import Ordering
from ringlib.patterns import Pattern

Tensor = torch.Tensor


def attention(q: Tensor, k: Tensor, v: Tensor, pattern: Pattern, *, scale: float, causal: bool,
              ordering: Ordering, dropout_p: float = 0.0, dropout_seed: int | None = None) -> Tensor:
    b, n, h, d = q.shape
    qh, kh, vh = (x.transpose(1, 2) for x in (q, k, v))  # (b, h, n, d)
    out = torch.zeros_like(qh)
    lse_parts: list[tuple[Tensor, Tensor, Tensor]] = []  # (head mask, o, lse) for "lse"
    causal_mask = torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
    drop = None
    if dropout_p > 0.0 and dropout_seed is not None:
        where = torch.arange(n, device=q.device)
        drop = multiplier(dropout_seed, b, torch.arange(h, device=q.device), where, where, dropout_p, q.dtype)
    for part in pattern.reference_parts(n, h, ordering):
        allowed = part.allowed.to(q.device)
        if causal:
            allowed = allowed & causal_mask
        row_ok = allowed.any(-1)  # rows that see at least one key
        scores = torch.matmul(qh, kh.transpose(-1, -2)) * scale
        # rows that see nothing get finite dummy scores (masked out below): no NaN, no NaN grads
        fill = torch.where(row_ok.unsqueeze(-1), float("-inf"), 0.0).to(scores.dtype)
        scores = torch.where(allowed, scores, fill)
        lse = torch.logsumexp(scores, dim=-1)  # (b, h, n)
        probs = torch.exp(scores - lse.unsqueeze(-1))
        if drop is not None:
            probs = probs * drop
        elif dropout_p > 0.0:
            probs = torch.nn.functional.dropout(probs, dropout_p)
        o = torch.matmul(probs, vh)
        covered = row_ok.view(1, 1, n)
        heads = torch.zeros(h, dtype=torch.bool, device=q.device)
        heads[list(part.heads)] = True
        heads = heads.view(1, h, 1)
        if pattern.combine == "sum":
            out = out + torch.where((heads & covered).unsqueeze(-1), o * part.weight, torch.zeros_like(o))
        else:
            lse_parts.append((heads & covered, o, lse))
    if lse_parts:
        masks = torch.stack([m.expand_as(l) for m, _, l in lse_parts])
        lses = torch.stack([l for _, _, l in lse_parts])
        any_part = masks.any(0, keepdim=True)
        empty = torch.where(any_part, float("-inf"), 0.0).to(lses.dtype)  # rows no part covers
        total = torch.logsumexp(torch.where(masks, lses, empty), dim=0)
        for (m, o, _), mask, l in zip(lse_parts, masks, lses):
            weight = torch.where(mask, torch.exp(torch.where(mask, l - total, 0.0)), 0.0)
            out = out + weight.unsqueeze(-1) * o
    return out.transpose(1, 2)
