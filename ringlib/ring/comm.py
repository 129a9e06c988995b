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
from typing import Sequence

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
    """One posted exchange: send to the next rank of the ring, receive from the previous.
    ``received``: one tensor, or a list of tensors when a list was sent."""

    works: list
    received: Tensor | list[Tensor] | None
    source: int
    group: object
    what: str

    def wait(self) -> Tensor | list[Tensor] | None:
        """Wait for the send and the receive; returns the received payload and drops this
        transfer's references to its buffers (the send buffers may be reused or freed)."""
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
        received, self.received, self.works = self.received, None, []
        return received


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
        self.spares: list[Tensor] = []  # completed receive buffers, reused by ``post``

    def source(self, step: int) -> int:
        """Group rank whose data this rank holds after ``step`` hops."""
        return self.ranks[(self.pos - step) % self.size]

    def post(self, send: Tensor, what: str) -> Transfer:
        """Send ``send`` (contiguous: no copy) to the next rank and receive a tensor of the
        same shape from the previous one, into a spare buffer given back with ``recycle``
        where one fits (double buffering), else a new one."""
        send = send.contiguous()
        recv = self._spare_like(send)
        ops = [dist.P2POp(dist.isend, send, self.next, self.group),
               dist.P2POp(dist.irecv, recv, self.prev, self.group)]
        return Transfer(dist.batch_isend_irecv(ops), recv, self.prev, self.group, what)

    def post_all(self, sends: Tensor | Sequence[Tensor], what: str) -> "Transfer | Batch":
        """``post`` for a tensor, or for each tensor of a list (a ``Batch``)."""
        if isinstance(sends, Tensor):
            return self.post(sends, what)
        return Batch([self.post(t, what) for t in sends])

    def recycle(self, buffers: Tensor | Sequence[Tensor] | None) -> None:
        """Give back buffers whose transfers are complete, for the next receives to reuse."""
        if buffers is None:
            return
        self.spares += [buffers] if isinstance(buffers, Tensor) else list(buffers)

    def _spare_like(self, like: Tensor) -> Tensor:
        for i, t in enumerate(self.spares):
            if t.shape == like.shape and t.dtype == like.dtype and t.device == like.device and t.is_contiguous():
                return self.spares.pop(i)
        return torch.empty_like(like, memory_format=torch.contiguous_format)


@dataclass
class Batch:
    """Transfers of the tensors of a list payload."""

    transfers: list

    def wait(self) -> list[Tensor]:
        out = [t.wait() for t in self.transfers]
        self.transfers = []
        return out


def _global(group, rank: int) -> int:
    return rank if group is None or group is dist.group.WORLD else dist.get_global_rank(group, rank)
