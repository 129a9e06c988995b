"""Talking to the other ranks: the input check before the ring, and the ring itself.

Every failure ends on every rank with an error within a bounded time instead of a hang:

* ``check_inputs`` all-gathers a small metadata vector before any point-to-point traffic, so
  unequal shard lengths, head counts, dtypes or pattern arguments raise the same
  ``ValueError`` on all ranks;
* every receive of the ring is waited on with a timeout (``RINGLIB_RING_TIMEOUT`` seconds,
  default: the process group's own timeout), so when one rank raises mid-ring the others
  raise a ``RuntimeError`` naming the peer they were waiting for.
"""

from __future__ import annotations

import datetime
import os
import zlib
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.distributed as dist

Tensor = torch.Tensor
_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)
_FIELDS = ("q length", "k length", "v length", "batch", "heads", "head_dim", "dtype", "device type",
           "pattern/causal/scale/ordering/layout")


def fingerprint(*values) -> int:
    """A process-independent hash of the call's non-tensor arguments (``hash`` is salted)."""
    return zlib.crc32(repr(values).encode())


def check_inputs(q: Tensor, k: Tensor, v: Tensor, group, call_fingerprint: int) -> None:
    """Raise the same ``ValueError`` on every rank when the ranks' inputs disagree."""
    world = dist.get_world_size(group)
    meta = torch.tensor([q.shape[1], k.shape[1], v.shape[1], q.shape[0], q.shape[2], q.shape[3],
                         _DTYPES.index(q.dtype) if q.dtype in _DTYPES else 99,
                         ("cpu", "cuda").index(q.device.type) if q.device.type in ("cpu", "cuda") else 9,
                         call_fingerprint], dtype=torch.int64)
    device = q.device if dist.get_backend(group) == "nccl" else torch.device("cpu")
    gathered = [torch.empty_like(meta, device=device) for _ in range(world)]
    dist.all_gather(gathered, meta.to(device), group=group)
    table = torch.stack([g.cpu() for g in gathered])  # (world, fields)
    for col, name in enumerate(_FIELDS):
        values = table[:, col].tolist()
        if len(set(values)) != 1:
            shown = [_DTYPES[x] if col == 6 and x < len(_DTYPES) else x for x in values]
            raise ValueError(
                f"ring attention: ranks disagree on {name}: {shown} (by rank). Every rank must pass "
                f"shards of equal length with the same batch, heads, head_dim, dtype and device "
                f"type, and the same pattern, causal, scale, ordering and layout.")


def timeout(group) -> datetime.timedelta:
    env = os.environ.get("RINGLIB_RING_TIMEOUT")
    if env:
        return datetime.timedelta(seconds=float(env))
    try:
        return dist.distributed_c10d._get_default_timeout(dist.get_backend(group))
    except Exception:  # pragma: no cover - private helper moved
        return datetime.timedelta(minutes=10)


@dataclass
class Transfer:
    """One posted exchange: send to the next rank of the ring, receive from the previous."""

    works: list
    received: Tensor | None
    source: int
    group: object
    what: str

    def wait(self) -> Tensor | None:
        limit = timeout(self.group)
        for work in self.works:
            try:
                ok = work.wait(limit)
            except Exception as exc:  # gloo raises on timeout or a closed peer
                raise RuntimeError(
                    f"ring attention: rank {dist.get_rank()} got no {self.what} from rank "
                    f"{self.source} within {limit.total_seconds():g} s: a peer failed or left the "
                    f"ring ({type(exc).__name__}: {exc})") from exc
            if ok is False:
                raise RuntimeError(
                    f"ring attention: rank {dist.get_rank()} got no {self.what} from rank "
                    f"{self.source} within {limit.total_seconds():g} s: a peer failed or left the ring")
        return self.received


class Ring:
    """A cyclic order of global ranks; this rank sends to its successor and receives from its
    predecessor (contiguous buffers, ``batch_isend_irecv``)."""

    def __init__(self, ranks: Sequence[int], group) -> None:
        self.ranks = tuple(ranks)  # ranks within ``group``
        self.group = group
        self.pos = self.ranks.index(dist.get_rank(group))
        self.size = len(self.ranks)
        self.next = _global(group, self.ranks[(self.pos + 1) % self.size])
        self.prev = _global(group, self.ranks[(self.pos - 1) % self.size])

    def source(self, step: int) -> int:
        """Group rank whose data this rank holds after ``step`` hops."""
        return self.ranks[(self.pos - step) % self.size]

    def post(self, send: Tensor, what: str) -> Transfer:
        send = send.contiguous()
        recv = torch.empty_like(send)
        ops = [dist.P2POp(dist.isend, send, self.next, self.group),
               dist.P2POp(dist.irecv, recv, self.prev, self.group)]
        return Transfer(dist.batch_isend_irecv(ops), recv, self.prev, self.group, what)


def _global(group, rank: int) -> int:
    return rank if group is None or group is dist.group.WORLD else dist.get_global_rank(group, rank)


def run_forward(ring: Ring, pending: Transfer, compute: Callable[[int, Tensor], None]) -> None:
    """Pass the keys/values around the ring (``pending``: the first transfer, already posted
    with ``ring.post`` so that it overlaps the local work); ``compute(step, received)`` runs
    for steps 1..size-1 while the next transfer is in flight."""
    for step in range(1, ring.size):
        current = pending.wait()
        if step + 1 < ring.size:
            pending = ring.post(current, "keys/values")
        compute(step, current)


def run_backward(ring: Ring, pending: Transfer, contribute: Callable[[int, Tensor], Tensor]) -> Tensor:
    """Backward ring: the keys/values travel as in the forward; ``contribute(step, received)``
    returns this rank's gradient for the received keys/values (same layout, accumulation
    dtype). Those gradients travel on behind the keys/values, each rank adding its own, and
    arrive back at their owner after a full turn. Returns the gradient of this rank's own
    payload summed over the other ranks of the ring."""
    grad_transfer = None
    for step in range(1, ring.size):
        current = pending.wait()
        if step + 1 < ring.size:
            pending = ring.post(current, "keys/values")
        grad = contribute(step, current)
        if grad_transfer is not None:
            grad = grad + grad_transfer.wait()
        grad_transfer = ring.post(grad, "key/value gradients")
    return grad_transfer.wait()
