"""Which global rows each rank holds, and the public shard / gather helpers.

Two layouts cut a global sequence of ``n = world * L`` rows into per-rank shards of ``L``:

* ``"contiguous"``: rank ``r`` holds rows ``[r*L, (r+1)*L)``.
* ``"zigzag"``: the sequence is cut into ``2*world`` chunks of ``L/2``; rank ``r`` holds chunks
  ``r`` and ``2*world-1-r`` (in that order). Under causal attention every rank then has the
  same amount of work at every ring step (the load-balanced layout of ring-flash-attention).

A rank's local rows are its chunks concatenated in increasing global order, so causal masks
between local rows are plain top-left masks.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor
LAYOUTS = ("contiguous", "zigzag")


def check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def chunks(layout: str, world: int, rank: int, local_len: int) -> tuple[tuple[int, int], ...]:
    """``(global_start, length)`` of the chunks rank ``rank`` holds, in local order."""
    check_layout(layout)
    if layout == "contiguous":
        return ((rank * local_len, local_len),)
    if local_len % 2:
        raise ValueError(f"layout='zigzag' needs an even shard length, got {local_len}")
    c = local_len // 2
    return ((rank * c, c), ((2 * world - 1 - rank) * c, c))


def positions(layout: str, world: int, rank: int, local_len: int, device=None) -> Tensor:
    """Global positions of the rank's local rows, shape ``(local_len,)``."""
    return torch.cat([torch.arange(s, s + c, device=device) for s, c in chunks(layout, world, rank, local_len)])


def _group_info(group) -> tuple[int, int]:
    if group is None:
        return 1, 0
    import torch.distributed as dist

    return dist.get_world_size(group), dist.get_rank(group)


def shard_sequence(x: Tensor, group=None, dim: int = 1, layout: str = "contiguous") -> Tensor:
    """This rank's shard of a full tensor ``x`` along ``dim`` (a view for "contiguous").

    ``x.shape[dim]`` must be divisible by the group size (by twice the size for "zigzag").
    With ``group=None`` or a group of one rank, ``x`` comes back unchanged.
    """
    check_layout(layout)
    world, rank = _group_info(group)
    if world == 1:
        return x
    n = x.shape[dim]
    unit = world * (2 if layout == "zigzag" else 1)
    if n % unit:
        raise ValueError(
            f"shard_sequence: length {n} along dim {dim} must be divisible by {unit} "
            f"(world size {world}, layout {layout!r})")
    parts = [x.narrow(dim, s, c) for s, c in chunks(layout, world, rank, n // world)]
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim)


class _AllGather(torch.autograd.Function):
    """All-gather along dim 0 whose backward sums every rank's gradient of this rank's piece."""

    @staticmethod
    def forward(ctx, x, group, world, rank):
        import torch.distributed as dist

        ctx.group, ctx.rank = group, rank
        pieces = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(pieces, x.contiguous(), group=group)
        return torch.stack(pieces)

    @staticmethod
    def backward(ctx, grad):
        import torch.distributed as dist

        grad = grad.contiguous()
        dist.all_reduce(grad, group=ctx.group)
        return grad[ctx.rank], None, None, None


def gather_sequence(x: Tensor, group=None, dim: int = 1, layout: str = "contiguous") -> Tensor:
    """The full tensor from every rank's shard along ``dim`` (inverse of ``shard_sequence``).

    Differentiable: the gradient of a rank's shard is the sum over ranks of the gradients
    of its rows (every rank holds the whole result). Every rank must call it.
    """
    check_layout(layout)
    world, rank = _group_info(group)
    if world == 1:
        return x
    local_len = x.shape[dim]
    stacked = _AllGather.apply(x.movedim(dim, 0), group, world, rank)  # (world, L, ...)
    if layout == "contiguous":
        full = stacked.reshape(world * local_len, *stacked.shape[2:])
    else:
        c = local_len // 2
        halves = stacked.reshape(world, 2, c, *stacked.shape[2:])
        full = torch.cat([halves[:, 0], halves[:, 1].flip(0)]).reshape(world * local_len, *stacked.shape[2:])
    return full.movedim(0, dim)
