"""Content-adaptive block-sparse attention: a learned scorer picks the key blocks per row.

Each block pair (query block ``i``, key block ``j``) is scored from pooled block summaries:
``q_bar_i`` / ``k_bar_j`` are the mean of the block's q / k vectors (per head), projected by
``q_summary_proj`` / ``k_summary_proj`` and fed, concatenated, to a small per-head MLP (the
legacy scorer's parameter layout, so old adaptive checkpoints load). Each
query block row keeps its top-k key blocks, per sample and head.

**How the scorer learns (straight-through estimator).** Top-k is not differentiable, so every
kept pair carries a gate ``g = 1 + s - stop_grad(s)`` with ``s = softmax_j(score / T)``: the
forward value is exactly 1 (the output is plain block-sparse attention over the kept
blocks), while the gradient ``dL/dg`` (how much the loss would gain from more weight on that
pair) flows into ``s``, hence into every scorer parameter, both summary projections and the
temperature. In training one more candidate per row (the runner-up) is evaluated with gate
value 0: it changes nothing in the forward pass but receives ``dL/dg`` at ``g = 0``, i.e.
whether adding that block would help. Without it, ``top_k=1`` under the row softmax would
give no gradient at all (a single block's weight cancels in the normalisation).

**Batch-shared selection.** ``selection="batch_threshold"`` keeps one set of pairs per head for
the whole batch: a pair is kept where ``mean_b(0.9 * onehot_topk + 0.1 * softmax(score / T)) > 0.1``
(``"batch_majority"``: where more than half of the samples put it in their top-k); a head left
empty keeps the diagonal. This is what old adaptive checkpoints were trained with, so they keep
their numbers. The threshold is a hard decision: in these modes the scorer gets no gradient
from the output (it learns only through whatever loss you put on its scores).
``select_adaptive`` is that selection as a function.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ringlib.blocksparse import sdpa
from ringlib.blocksparse.pairs import from_lists
from ringlib.blocksparse.pattern import BlockSparse
from ringlib.functional import attention

Tensor = torch.Tensor

__all__ = ["AdaptiveBlockSparseAttention", "BlockScorer", "select_adaptive", "legacy_top_k", "SELECTIONS"]

#: How the kept key blocks are chosen (see the module docstring).
SELECTIONS = ("top_k", "batch_threshold", "batch_majority")


class BlockScorer(nn.Module):
    """Scores block pairs from ``concat(q_summary_i, k_summary_j)`` (legacy layout).

    Per head (default): ``head_projections[h]`` (``Linear(2D, hidden)``), then
    ``head_networks[h]`` = ``ReLU, Linear(hidden, hidden), ReLU, Linear(hidden, 1)``.
    Shared (``share_across_heads=True``): one ``importance_net`` with ``num_layers`` hidden
    layers. The first layer is applied to q and k summaries separately and broadcast
    (``W [q; k] = W_q q + W_k k``), so no ``nb x nb x 2D`` input is ever built.
    """

    def __init__(self, input_dim: int, hidden_dim: int, num_layers: int, num_heads: int,
                 share_across_heads: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.input_dim, self.num_heads, self.share_across_heads = input_dim, num_heads, share_across_heads
        if share_across_heads:
            layers: list[nn.Module] = [nn.Linear(2 * input_dim, hidden_dim, **factory)]
            for _ in range(num_layers - 1):
                layers += [nn.ReLU(), nn.Linear(hidden_dim, hidden_dim, **factory)]
            layers += [nn.ReLU(), nn.Linear(hidden_dim, 1, **factory)]
            self.importance_net = nn.Sequential(*layers)
        else:
            self.head_projections = nn.ModuleList(
                nn.Linear(2 * input_dim, hidden_dim, **factory) for _ in range(num_heads))
            self.head_networks = nn.ModuleList(
                nn.Sequential(nn.ReLU(), nn.Linear(hidden_dim, hidden_dim, **factory), nn.ReLU(),
                              nn.Linear(hidden_dim, 1, **factory))
                for _ in range(num_heads))

    def score_heads(self, q_summary: Tensor, k_summary: Tensor) -> Tensor:
        """``(B, H, nq, D)``, ``(B, H, nk, D)`` -> scores ``(B, H, nq, nk)``, all heads at once."""
        d = self.input_dim
        if self.share_across_heads:
            first, rest = self.importance_net[0], self.importance_net[1:]
            a = q_summary @ first.weight[:, :d].t() + first.bias
            c = k_summary @ first.weight[:, d:].t()
            return rest(a.unsqueeze(3) + c.unsqueeze(2)).squeeze(-1)
        # per-head weights stacked (H small): one batched contraction per layer
        w1 = torch.stack([m.weight for m in self.head_projections])  # (H, hidden, 2D)
        b1 = torch.stack([m.bias for m in self.head_projections])
        w2 = torch.stack([m[1].weight for m in self.head_networks])
        b2 = torch.stack([m[1].bias for m in self.head_networks])
        w3 = torch.stack([m[3].weight[0] for m in self.head_networks])  # (H, hidden)
        b3 = torch.stack([m[3].bias[0] for m in self.head_networks])
        a = torch.einsum("bhid,hed->bhie", q_summary, w1[..., :d]) + b1[None, :, None]
        c = torch.einsum("bhjd,hed->bhje", k_summary, w1[..., d:])
        x = torch.relu(a.unsqueeze(3) + c.unsqueeze(2))  # (B, H, nq, nk, hidden)
        x = torch.relu(torch.einsum("bhije,hfe->bhijf", x, w2) + b2[None, :, None, None])
        return torch.einsum("bhije,he->bhij", x, w3) + b3[None, :, None, None]

    def forward(self, q_summary: Tensor, k_summary: Tensor, head_idx: int | None = None) -> Tensor:
        """Legacy signature: ``(B, nq, D)``, ``(B, nk, D)`` -> ``(B, nq, nk)`` for head
        ``head_idx`` (None: the mean over heads; ignored when shared)."""
        heads = 1 if self.share_across_heads else self.num_heads
        scores = self.score_heads(q_summary.unsqueeze(1).expand(-1, heads, -1, -1),
                                  k_summary.unsqueeze(1).expand(-1, heads, -1, -1))
        if self.share_across_heads:
            return scores[:, 0]
        return scores.mean(1) if head_idx is None else scores[:, head_idx]


def legacy_top_k(num_blocks: int, base_sparsity: float) -> int:
    """The legacy k: ``max(1, int(nb * nb * (1 - base_sparsity)) // nb)``."""
    return max(1, int(num_blocks * num_blocks * (1 - base_sparsity)) // num_blocks)


def select_adaptive(scores: Tensor, *, base_sparsity: float, hard: bool, temperature: Tensor | float,
                    training: bool, top_k: int | None = None) -> Tensor:
    """The legacy SELECT_ADAPTIVE: ``scores (B, H, nb, nb)`` -> kept pairs,
    bool ``[H, nb, nb]`` shared by the batch.

    Training adds Gumbel noise drawn from the global RNG, one ``(B, nb, nb)`` draw per head in
    ascending head order (the legacy draw order). Soft mode keeps pairs with
    ``mean_b(0.9 * onehot_topk + 0.1 * softmax(score / T)) > 0.1``, hard mode those chosen by
    more than half of the samples; a head left empty keeps the diagonal. ``top_k`` (default
    ``legacy_top_k(nb, base_sparsity)``) is the k of the one-hot, at most ``nb``.
    """
    scores = scores.detach()
    b, h, nb, _ = scores.shape
    if training:
        noisy = []
        for head in range(h):  # one draw per head, in order: reproduces the legacy RNG stream
            u = torch.rand_like(scores[:, head])
            noisy.append(scores[:, head] - torch.log(-torch.log(u + 1e-10) + 1e-10))
        scores = torch.stack(noisy, 1)
    k = min(nb, top_k or legacy_top_k(nb, base_sparsity))
    top = scores.topk(k, dim=-1).indices
    sel = torch.zeros_like(scores).scatter_(-1, top, 1.0)
    if hard:
        keep = sel.mean(0) > 0.5
    else:
        keep = (0.9 * sel + 0.1 * torch.softmax(scores / temperature, dim=-1)).mean(0) > 0.1
    empty = ~keep.flatten(1).any(1)
    eye = torch.eye(nb, dtype=torch.bool, device=scores.device)
    return torch.where(empty.view(h, 1, 1), eye, keep)


class AdaptiveBlockSparseAttention(nn.Module):
    """Block-sparse attention ``(q, k, v) -> out`` over ``(batch, seq, heads, head_dim)``
    whose key blocks are chosen per sample, head and query block by a learned scorer.

    ``top_k`` key blocks per row (default from ``sparsity`` with the legacy formula
    ``max(1, int(nb * nb * (1 - sparsity)) // nb)``); ``normalization`` as in
    ``ringlib.BlockSparse``; ``causal`` masks token-level and never selects future blocks.
    ``explore`` evaluates the runner-up block per row in training (gate 0, see the module
    docstring). ``selection``: ``"top_k"`` (per sample, head and query block, the default),
    ``"batch_threshold"`` or ``"batch_majority"`` (one set of pairs per head shared by the
    batch, chosen without gradient; see the module docstring). The parameters and their
    state_dict keys are the legacy
    old adaptive ones (``log_temperature``, ``importance_scorer.*``,
    ``q_summary_proj.*``, ``k_summary_proj.*``).
    """

    def __init__(self, num_heads: int, head_dim: int, *, block_size: int = 64, sparsity: float = 0.9,
                 top_k: int | None = None, hidden_dim: int = 128, num_layers: int = 2,
                 share_across_heads: bool = False, temperature: float = 1.0,
                 learnable_temperature: bool = True, min_temperature: float = 0.1,
                 normalization: str = "softmax", explore: bool = True, scale: float | None = None,
                 selection: str = "top_k", device=None, dtype=None) -> None:
        super().__init__()
        for name, value, low in (("num_heads", num_heads, 1), ("head_dim", head_dim, 1),
                                 ("block_size", block_size, 1), ("hidden_dim", hidden_dim, 1),
                                 ("num_layers", num_layers, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"top_k must be a positive int or None, got {top_k!r}")
        if not 0.0 <= sparsity < 1.0:
            raise ValueError(f"sparsity must be in [0, 1), got {sparsity!r}")
        if normalization not in ("softmax", "per_block_sum"):
            raise ValueError(f"normalization must be 'softmax' or 'per_block_sum', got {normalization!r}")
        if selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        factory = {"device": device, "dtype": dtype}
        self.num_heads, self.head_dim, self.block_size = num_heads, head_dim, block_size
        self.sparsity, self.top_k, self.normalization = sparsity, top_k, normalization
        self.learnable_temperature, self.min_temperature = learnable_temperature, min_temperature
        self.explore, self.scale, self.selection = explore, scale, selection
        # creation order = legacy order (seed-for-seed initialisation)
        self.importance_scorer = BlockScorer(head_dim, hidden_dim, num_layers, num_heads,
                                             share_across_heads, **factory)
        log_t = torch.tensor(math.log(temperature), device=device,
                             dtype=dtype if dtype is not None else torch.get_default_dtype())
        if learnable_temperature:
            self.log_temperature = nn.Parameter(log_t)
        else:
            self.register_buffer("log_temperature", log_t)
        self.q_summary_proj = nn.Linear(head_dim, head_dim, **factory)
        self.k_summary_proj = nn.Linear(head_dim, head_dim, **factory)

    def temperature(self) -> Tensor:
        t = self.log_temperature.exp()
        return t.clamp(min=self.min_temperature) if self.learnable_temperature else t

    def _check(self, q: Tensor, k: Tensor, v: Tensor) -> None:
        for name, t in (("q", q), ("k", k), ("v", v)):
            if t.dim() != 4 or t.shape[2:] != (self.num_heads, self.head_dim):
                raise ValueError(f"{name} must have shape (batch, seq, {self.num_heads}, {self.head_dim}), "
                                 f"got {tuple(t.shape)}")
        if not (q.shape == k.shape == v.shape):
            raise ValueError(f"q, k, v must have one shape, got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
        if q.shape[1] % self.block_size:
            raise ValueError(f"sequence length {q.shape[1]} must be divisible by block_size {self.block_size}")

    def block_scores(self, q: Tensor, k: Tensor) -> Tensor:
        """Scores ``(B, H, nb, nb)`` of every block pair from the pooled block summaries."""
        b, n, h, d = q.shape
        nb = n // self.block_size
        q_bar = q.reshape(b, nb, self.block_size, h, d).mean(2).transpose(1, 2)  # (B, H, nb, D)
        k_bar = k.reshape(b, nb, self.block_size, h, d).mean(2).transpose(1, 2)
        q_bar, k_bar = q_bar.to(self.q_summary_proj.weight.dtype), k_bar.to(self.k_summary_proj.weight.dtype)
        return self.importance_scorer.score_heads(self.q_summary_proj(q_bar), self.k_summary_proj(k_bar))

    def legacy_layout(self, q: Tensor, k: Tensor, *, base_sparsity: float, hard: bool = False) -> Tensor:
        """The legacy pattern (bool ``[H, nb, nb]``) for these inputs, in this module's mode."""
        with torch.no_grad():
            scores = self.block_scores(q, k)
            return select_adaptive(scores, base_sparsity=base_sparsity, hard=hard,
                                   temperature=self.temperature(), training=self.training)

    def shared_layout(self, q: Tensor, k: Tensor) -> Tensor:
        """The batch-shared kept pairs (bool ``[H, nb, nb]``) of the ``batch_*`` selections."""
        with torch.no_grad():
            return select_adaptive(self.block_scores(q, k), base_sparsity=self.sparsity,
                                   hard=self.selection == "batch_majority", temperature=self.temperature(),
                                   training=self.training, top_k=self.top_k)

    def attend_shared(self, q: Tensor, k: Tensor, v: Tensor, layout: Tensor, *, is_causal: bool = False,
                      backend: str = "auto") -> Tensor:
        """Block-sparse attention over a batch-shared ``layout`` (bool ``[H, nb, nb]``, e.g.
        from ``shared_layout``) with this module's block size, normalisation and scale
        (``backend`` as in ``ringlib.attention``)."""
        if q.shape[1] == 0:  # no blocks: the empty output
            return q.new_zeros(q.shape)
        pattern = BlockSparse(layout.cpu(), block_size=self.block_size, normalization=self.normalization)
        return attention(q, k, v, pattern, causal=is_causal, scale=self.scale, backend=backend)

    def _forward_shared(self, q: Tensor, k: Tensor, v: Tensor, is_causal: bool, return_layout: bool):
        b, n, h, _ = q.shape
        if n == 0:
            layout = torch.zeros(h, 0, 0, dtype=torch.bool, device=q.device)
        else:
            layout = self.shared_layout(q, k)
        out = self.attend_shared(q, k, v, layout, is_causal=is_causal)
        if not return_layout:
            return out
        if is_causal:
            i = torch.arange(layout.shape[-1], device=layout.device)
            layout = layout & (i[None, :] <= i[:, None])
        return out, layout.unsqueeze(0).expand(b, -1, -1, -1)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, *, is_causal: bool = False,
                return_layout: bool = False):
        self._check(q, k, v)
        if self.selection != "top_k":
            return self._forward_shared(q, k, v, is_causal, return_layout)
        b, n, h, d = q.shape
        nb = n // self.block_size
        logits = self.block_scores(q, k) / self.temperature()
        i = torch.arange(nb, device=q.device)
        if is_causal:  # future blocks contribute nothing: never spend a slot on them
            logits = logits.masked_fill(i[None, :] > i[:, None], float("-inf"))
        kk = min(nb, self.top_k or legacy_top_k(nb, self.sparsity))
        extra = 1 if (self.explore and self.training and kk < nb) else 0
        idx = logits.topk(kk + extra, dim=-1).indices  # (B, H, nb, kk + extra)
        soft = torch.softmax(logits, dim=-1).gather(-1, idx)
        base = torch.zeros(kk + extra, dtype=soft.dtype, device=q.device)
        base[:kk] = 1.0
        gates = base + soft - soft.detach()  # exactly `base` forward, straight-through backward

        rows = i.view(1, 1, nb, 1).expand_as(idx)
        head_row = torch.arange(b * h, device=q.device).view(b, h, 1, 1) * nb
        valid = (idx <= rows) if is_causal else torch.ones_like(idx, dtype=torch.bool)
        q_slot, kv_slot = (head_row + rows)[valid], (head_row + idx)[valid]
        pairs, where = from_lists(q_slot, kv_slot, (idx == rows)[valid], b * h * nb, is_causal)
        flat_gates = gates[valid]
        weights = tuple(flat_gates[w] for w in where)

        def fold(x: Tensor) -> Tensor:  # (B, n, H, D) -> (1, n, B*H, D): one layout per (sample, head)
            return x.transpose(0, 1).reshape(1, n, b * h, d)

        scale = d ** -0.5 if self.scale is None else self.scale
        out = sdpa.attention(fold(q), fold(k), fold(v), pairs, block_size=self.block_size, layout_heads=b * h,
                             scale=scale, softmax=self.normalization == "softmax", weights=weights)
        out = out.reshape(n, b, h, d).transpose(0, 1)
        if not return_layout:
            return out
        layout = torch.zeros(b, h, nb, nb, dtype=torch.bool, device=q.device)
        layout.scatter_(-1, idx[..., :kk], True)
        if is_causal:
            layout &= (i[None, :] <= i[:, None])
        return out, layout
