"""Talking to the other ranks: the input check before the ring, and the ring itself.

Every failure ends on every rank with an error within ``RINGLIB_RING_TIMEOUT`` seconds
instead of a hang (``ringlib.ring.faults`` says how):

* ``check_inputs`` meets the other ranks through the group's store before any point-to-point
  traffic: unequal shapes, dtypes or call arguments raise the same ``ValueError`` on all
  ranks; a rank that failed before the call (``before_ring``) or never came raises
  ``RingError`` naming it on all the others;
* every send and receive of the ring is waited on with the timeout; a failure inside the
  ring (``inside_ring``), a closed connection or a timeout raises ``RingError`` naming the
  rank that failed and what it was doing.
"""

from __future__ import annotations

import contextlib
import datetime
import time
import zlib
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.distributed as dist

from ringlib.ring.faults import Call, RingError, ring_timeout

__all__ = ["RingError", "ring_timeout", "describe", "check_inputs", "before_ring", "inside_ring", "Ring"]

Tensor = torch.Tensor
_SHOWN = 160  # characters of a disagreeing value shown per rank


def describe(q: Tensor, k: Tensor, v: Tensor, pattern, *, causal: bool, scale: float, ordering,
             dropout_p: float, backend: str, layout: str, n: int, dropout_seed: int | None = None) -> dict[str, str]:
    """Everything about a call that every rank must agree on, as text: the tensors' shapes,
    dtypes and device type, the pattern and the arguments; a callable ordering by a hash of
    the permutations it gives for the segment lengths in use (its identity differs per
    process), a block-sparse layout by a hash of its blocks; ``dropout_seed`` the seed in use
    (drawn on each rank where the caller gave none)."""
    heads = q.shape[2]
    return {
        "q shape": str(tuple(q.shape)), "k shape": str(tuple(k.shape)), "v shape": str(tuple(v.shape)),
        "dtypes": f"{q.dtype}, {k.dtype}, {v.dtype}", "device type": q.device.type,
        "pattern": _pattern_text(pattern, n, heads), "causal": repr(causal), "scale": repr(float(scale)),
        "dropout_p": repr(float(dropout_p)), "dropout_seed": repr(dropout_seed), "ordering": _ordering_text(ordering, pattern, n, heads),
        "layout": layout, "backend": backend,
        "gradients": repr(torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v))),
    }


def _crc(*chunks: bytes) -> str:
    value = 0
    for chunk in chunks:
        value = zlib.crc32(chunk, value)
    return f"{value:08x}"


def _pattern_text(pattern, n: int, heads: int) -> str:
    if hasattr(pattern, "counts") and hasattr(pattern, "block_size"):  # block-sparse: by its blocks
        counts = pattern.counts(n // pattern.block_size, heads)
        return (f"{type(pattern).__name__}(block_size={pattern.block_size}, normalization="
                f"{pattern.normalization!r}, partial_tail={pattern.partial_tail!r}, layout of shape "
                f"{tuple(counts.shape)} hashing to {_crc(counts.contiguous().numpy().tobytes())})")
    text = repr(pattern)
    if " at 0x" in text:  # holds an object printed by address: describe it by its plan
        text = f"{type(pattern).__name__} with plan hashing to {_crc(repr(pattern.plan(n, heads)).encode())}"
    return text


def _ordering_text(ordering, pattern, n: int, heads: int) -> str:
    if ordering is None or isinstance(ordering, str):
        return repr(ordering)
    from ringlib.orderings import permutation

    try:
        plan = pattern.plan(n, heads)
        lengths = sorted({s.length for b in plan.branches for s in b.segmentations})
    except NotImplementedError:
        lengths = [n]
    chunks = []
    for m in lengths:
        perm = permutation(ordering, m, torch.device("cpu"))
        chunks.append(f"{m}:".encode() + (b"identity" if perm is None else perm.cpu().numpy().tobytes()))
    return f"a callable giving permutations hashing to {_crc(*chunks)} for segment lengths {lengths}"


def check_inputs(group, fields: dict[str, str], timeout: float) -> None:
    """Meet the other ranks (at most ``timeout`` seconds); raise the same ``ValueError`` on
    every rank when their ``fields`` disagree, ``RingError`` when a rank failed or is missing."""
    call = Call.begin(group, timeout)
    records = call.exchange({"fields": fields}, "the ring input check")
    wrong = [name for name in fields if len({r["fields"].get(name) for r in records}) != 1]
    if wrong:
        lines = "; ".join(
            f"{name} (" + ", ".join(f"{call.name(r)}: {str(rec['fields'].get(name))[:_SHOWN]}"
                                    for r, rec in enumerate(records)) + ")"
            for name in wrong)
        raise ValueError(
            f"ring attention: ranks disagree on {lines}. Every rank must pass shards "
            f"of equal shape, dtype and device type, with the same pattern, causal, scale, dropout_p, dropout_seed "
            f"ordering (a callable must give the same permutations), layout and backend, and all or none "
            f"must need gradients.")


def tell_peers(group, exc: BaseException) -> None:
    """This rank raises ``exc`` before the ring: tell the others, so they stop at once."""
    Call.begin(group, 1.0).tell_failure(exc, "before the ring")


@contextlib.contextmanager
def before_ring(group):
    """Errors raised inside (this rank's own checks) reach the other ranks too."""
    try:
        yield
    except Exception as exc:
        tell_peers(group, exc)
        raise


@contextlib.contextmanager
def inside_ring(group, what: str):
    """Errors raised inside, other than a lost peer, are posted for the other ranks."""
    try:
        yield
    except RingError:
        raise
    except Exception as exc:
        Call.current(group).report(exc, what)
        raise


def _reason(exc: BaseException) -> str:
    """The first sentence of a backend error, without its source location."""
    text = str(exc).strip()
    if text.startswith("[") and "] " in text:
        text = text.split("] ", 1)[1]
    return f"{type(exc).__name__}: {text.split('. ')[0]}"


@dataclass
class Transfer:
    """One posted exchange: send to the next rank of the ring, receive from the previous.
    ``received``: one tensor, or a list of tensors when a list was sent. ``works``: per
    posted operation, its work, the peer (group rank) and what it does."""

    works: list
    received: Tensor | list[Tensor] | None
    group: object
    what: str

    def wait(self) -> Tensor | list[Tensor] | None:
        """Wait for the send and the receive; returns the received payload and drops this
        transfer's references to its buffers (the send buffers may be reused or freed)."""
        limit = ring_timeout(self.group)
        start = time.monotonic()
        for work, peer, receiving in self.works:  # the send and the receive share one deadline
            left = max(0.001, start + limit - time.monotonic())
            try:
                ok, error = work.wait(datetime.timedelta(seconds=left)), None
            except Exception as exc:  # gloo raises on timeout or a closed peer
                ok, error = False, exc
            if ok is False:
                raise _lost(self.group, peer, receiving, self.what, time.monotonic() - start, limit, error) \
                    from error
        received, self.received, self.works = self.received, None, []
        return received


def _lost(group, peer: int, receiving: bool, what: str, waited: float, limit: float,
          error: BaseException | None) -> RingError:
    call = Call.current(group)
    me, them = call.name(call.rank), call.name(peer)
    broken = error is not None and waited < 0.9 * limit  # not a timeout: the peer's connection broke
    if broken:
        text = (f"{me} lost {them} while {'receiving' if receiving else 'sending'} {what} "
                f"({_reason(error)})")
    elif receiving:
        text = f"{me} got no {what} from {them} within {limit:g} s"
    else:
        text = f"{me} could not send {what} to {them} within {limit:g} s"
    return call.lost(peer, text, broken)


class Ring:
    """A cyclic order of ranks of ``group``; this rank sends to its successor and receives
    from its predecessor (contiguous buffers)."""

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
        nxt, prev = self.ranks[(self.pos + 1) % self.size], self.ranks[(self.pos - 1) % self.size]
        return self.exchange([(send, nxt)], [(recv, prev)], what, received=recv)

    def exchange(self, sends, recvs, what: str, *, received=None, tag: int = 0) -> Transfer:
        """Post point-to-point transfers: ``sends`` and ``recvs`` are ``(tensor, group rank)``
        pairs (contiguous tensors, receive buffers filled in place); the ``Transfer``'s
        ``wait`` returns ``received``. ``tag`` keeps apart transfers between the same two
        ranks that are in flight at once (the pairwise schedule's rounds)."""
        if not sends and not recvs:
            return Transfer([], received, self.group, what)
        if dist.get_backend(self.group) == "nccl":  # NCCL needs the pairs posted as one batch
            ops = [dist.P2POp(dist.isend, t, _global(self.group, p), self.group, tag) for t, p in sends] + \
                  [dist.P2POp(dist.irecv, t, _global(self.group, p), self.group, tag) for t, p in recvs]
            works = dist.batch_isend_irecv(ops)
            peers = [(p, False) for _, p in sends] + [(p, True) for _, p in recvs]
            if len(works) != len(peers):  # one work for the whole batch
                peers = [peers[-1]] * len(works)
            return Transfer([(w, *p) for w, p in zip(works, peers)], received, self.group, what)
        works = []  # one by one, so that a broken connection names its peer
        ops = [(dist.isend, t, p, False) for t, p in sends] + [(dist.irecv, t, p, True) for t, p in recvs]
        for op, tensor, group_peer, receiving in ops:
            start = time.monotonic()
            try:
                works.append((op(tensor, _global(self.group, group_peer), self.group, tag), group_peer, receiving))
            except Exception as exc:
                raise _lost(self.group, group_peer, receiving, what, time.monotonic() - start,
                            ring_timeout(self.group), exc) from exc
        return Transfer(works, received, self.group, what)

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
