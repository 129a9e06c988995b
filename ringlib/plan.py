"""Plans: how a pattern decomposes into strided parts (the fast backends' input).

A *part* is a set of query positions, the key positions each of them may see, and the heads
it applies to; inside a part the softmax runs over exactly those keys. Every pattern of
ringlib tiles the sequence regularly, so its parts come in families that one strided view
addresses at once: ``StridedParts``. A backend turns each family into one batched attention
call on views of q, k, v, never a Python loop over segments or heads.

Coordinates of one ``StridedParts`` (all in sequence rows of the possibly reordered tensors):

* segment ``s < segments``, residue lane ``d < lanes``, head ``j < heads``;
* query row ``t < q_count`` sits at ``q_start + s*segment_stride + d + t*q_rate``;
* key row ``u < k_count`` sits at ``k_start + s*segment_stride + d + u*k_rate``;
* the head is ``head_start + d*lane_head_step + j*head_step``.

``lanes`` lets one view cover all residue classes of a dilation rate at once (LongNet's
per-head offsets use ``lane_head_step=1``: head ``h`` takes residue ``h mod r``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class StridedParts:
    segments: int
    segment_stride: int
    lanes: int
    lane_head_step: int
    heads: int
    head_start: int
    head_step: int
    q_start: int
    q_count: int
    q_rate: int
    k_start: int
    k_count: int
    k_rate: int
    weight: float = 1.0  # output weight under the "sum" combine rule

    def __post_init__(self) -> None:
        for name in ("segments", "lanes", "heads", "q_count", "k_count"):
            if getattr(self, name) < 1:
                raise ValueError(f"StridedParts.{name} must be >= 1, got {getattr(self, name)}")

    @property
    def same_rows(self) -> bool:
        """Queries and keys are the same rows (self-attention inside the part)."""
        return (self.q_start, self.q_count, self.q_rate) == (self.k_start, self.k_count, self.k_rate)

    def per_lane(self) -> tuple["StridedParts", ...]:
        """One family per residue lane (each a plain 4-D strided view of q, k, v)."""
        if self.lanes == 1:
            return (self,)
        return tuple(StridedParts(self.segments, self.segment_stride, 1, 0, self.heads,
                                  self.head_start + d * self.lane_head_step, self.head_step,
                                  self.q_start + d, self.q_count, self.q_rate,
                                  self.k_start + d, self.k_count, self.k_rate, self.weight)
                     for d in range(self.lanes))


@dataclass(frozen=True)
class Segmentation:
    """Back-to-back segments that an ordering permutes: ``count`` segments of ``length``
    rows starting at ``start``. Rows outside every segmentation keep their place."""

    start: int
    length: int
    count: int


@dataclass(frozen=True)
class Branch:
    """Parts that share one segmentation (hence one ordering of q, k, v). The parts of a
    branch never cover the same (position, head) twice."""

    segmentations: tuple[Segmentation, ...]
    parts: tuple[StridedParts, ...]


@dataclass(frozen=True)
class Plan:
    """One pattern at one sequence length and head count.

    ``combine`` says how outputs of parts that cover the same (position, head) combine:
    "lse" (weights = softmax of the parts' log-sum-exps; LongNet eq. 10, the exact union
    softmax when key sets are disjoint) or "sum" (sum of ``weight * output``).
    A (position, head) that no part covers outputs 0.
    """

    branches: tuple[Branch, ...]
    combine: Literal["lse", "sum"]
    disjoint: bool = False  # no (position, head) is covered by two parts

    @property
    def self_attending(self) -> bool:
        """In every family queries and keys are the same rows (causal masks are the plain
        top-left triangle of each family)."""
        return all(part.same_rows for branch in self.branches for part in branch.parts)


@functools.lru_cache(maxsize=256)
def plan_flops(plan: Plan, batch: int, head_dim: int) -> float:
    """Forward FLOPs of a plan without masks: ``4 b d`` times query-key pairs."""
    pairs = sum(p.segments * p.lanes * p.heads * p.q_count * p.k_count for br in plan.branches for p in br.parts)
    return 4.0 * batch * head_dim * pairs
