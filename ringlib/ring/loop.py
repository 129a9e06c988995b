"""The ring loops: keys/values around a ring forward, keys/values and their gradients backward.

Per-rank memory is a constant number of payload-sized buffers, whatever the world size:

* forward: the payload being computed on and the next one in flight (double buffering);
* backward: the payload being computed on, the next one in flight, and one gradient
  carrier. The carrier arriving from the previous rank already holds the gradient of the
  ranks before this one; this rank adds its own in place and sends it on, so it returns to
  the payload's owner after a full turn (re-circulating, nothing saved per step). The
  key/value transfer is completed and its buffer dropped before the gradient is posted, so
  a step never holds more than two key/value payloads plus two gradient carriers.
"""

from __future__ import annotations

from typing import Callable

import torch

from ringlib.ring.comm import Ring

Tensor = torch.Tensor


def run_forward(ring: Ring, pending, compute: Callable[[int, object], None]) -> None:
    """Pass the keys/values around the ring (``pending``: the first transfer, already posted
    with ``ring.post``/``post_all`` so that it overlaps the local work; the payload is a
    tensor or a list of tensors); ``compute(step, received)`` runs for steps 1..size-1 while
    the next transfer is in flight. Two receive buffers are used in turn."""
    spare = None
    try:
        for step in range(1, ring.size):
            current = pending.wait()  # also completes the send of ``spare``
            if step + 1 < ring.size:
                ring.recycle(spare)
                pending = ring.post_all(current, "keys/values")
            compute(step, current)
            spare = current
            current = None
    finally:
        ring.spares = []


def run_backward(ring: Ring, pending, contribute: Callable[[int, object, object], None],
                 zeros: Callable[[object], object]):
    """Backward ring. ``contribute(step, received, grad)`` adds this rank's gradient for the
    received keys/values into the carrier ``grad`` (the payload's layout, accumulation
    dtype); ``zeros(received)`` makes the first carrier. Returns the gradient of this rank's
    own payload summed over the other ranks of the ring."""
    grad_transfer = None
    try:
        current = pending.wait()
        pending = None
        for step in range(1, ring.size):
            last = step + 1 == ring.size
            # the previous rank's carrier; waiting also completes this rank's last send
            grad = grad_transfer.wait() if grad_transfer is not None else zeros(current)
            grad_transfer = None
            if not last:
                pending = ring.post_all(current, "keys/values")
            contribute(step, current, grad)
            following = pending.wait() if not last else None  # also completes the send of ``current``
            pending = current = None  # drop this step's keys/values before the gradient travels
            grad_transfer = ring.post_all(grad, "key/value gradients")
            grad = None
            current = following
        return grad_transfer.wait()
    finally:
        ring.spares = []


def zeros_like_payload(payload, dtype: torch.dtype):
    """Zero carriers with the payload's shapes (a tensor or a list of tensors)."""
    if isinstance(payload, Tensor):
        return torch.zeros(payload.shape, dtype=dtype, device=payload.device)
    return [torch.zeros(t.shape, dtype=dtype, device=t.device) for t in payload]


# --- direct rings: each step sends only what the receiving rank needs ---------------------
# Under a causal mask the ring's relay passes keys to ranks that mask them all (contiguous
# shards: a rank's keys are seen only by the ranks after it) or whole payloads where half is
# seen (zigzag shards: the rank ahead sees only the first chunk). A direct ring instead sends,
# at step s, this rank's own rows that the rank s ahead needs (``send(s)``: a list of
# contiguous tensors, or None for nothing) straight to it, and receives into ``recv(s)``
# (buffers, or None) the rows it needs of the rank s behind: exactly what
# ``ringlib.ring.traffic`` counts as the least. Gradients of received rows go straight back
# to their owner. Memory as the relay: two received payloads and one gradient carrier
# while a step computes.


def post_direct(ring: Ring, step: int, sends: list | None, bufs: list | None, what: str, tag: int = 0):
    """Post step ``step``: ``sends`` to the rank ``step`` ahead, ``bufs`` filled from the
    rank ``step`` behind; the transfer's ``wait`` gives ``bufs``."""
    ahead, behind = ring.ranks[(ring.pos + step) % ring.size], ring.ranks[(ring.pos - step) % ring.size]
    return ring.exchange([(t, ahead) for t in sends or []], [(t, behind) for t in bufs or []], what,
                         received=bufs, tag=tag)


def run_forward_direct(ring: Ring, send, recv, compute: Callable[[int, object], None]) -> None:
    """``compute(step, received)`` for the steps with rows to receive; the next step's
    transfer in flight meanwhile."""
    pending = post_direct(ring, 1, send(1), recv(1), "keys/values")
    for step in range(1, ring.size):
        current = pending.wait()
        pending = post_direct(ring, step + 1, send(step + 1), recv(step + 1), "keys/values") \
            if step + 1 < ring.size else None
        if current is not None:
            compute(step, current)
        current = None


def run_backward_direct(ring: Ring, send, recv, contribute: Callable[[int, object, object], None],
                        zeros: Callable[[object], object], absorb: Callable[[int, list], None]) -> None:
    """``contribute(step, received, grad)`` fills a zero carrier for the rows received from
    the rank ``step`` behind; the carrier goes straight back to it while the next step
    computes; ``absorb(step, grad)`` takes the gradient of the rows this rank sent at
    ``step``, back from the rank ahead."""
    sent = {}  # step -> shapes and dtypes this rank sent (its returning gradients' buffers)

    def post(step: int):
        out = send(step)
        if out is not None:
            sent[step] = [(t.shape, t.dtype, t.device) for t in out]
        return post_direct(ring, step, out, recv(step), "keys/values")

    def settle(transfer, step: int) -> None:
        back = transfer.wait() if transfer is not None else None
        if back is not None:
            absorb(step, back)

    pending, returning = post(1), None
    for step in range(1, ring.size):
        current = pending.wait()
        pending = post(step + 1) if step + 1 < ring.size else None
        # the previous step's gradients are home before this step's carrier exists (as the
        # relay waits for its carrier): two key/value payloads and one carrier at a time
        settle(returning, step - 1)
        returning = None
        grad = None
        if current is not None:
            grad = zeros(current)
            contribute(step, current, grad)
        current = None
        bufs = [torch.empty(shape, dtype=_acc(dtype), device=device)
                for shape, dtype, device in sent.pop(step)] if step in sent else None
        # the gradient travels the other way: to the rank ``step`` behind, from the one ahead
        behind, ahead = ring.ranks[(ring.pos - step) % ring.size], ring.ranks[(ring.pos + step) % ring.size]
        returning = ring.exchange([(g, behind) for g in grad or []], [(t, ahead) for t in bufs or []],
                                  "key/value gradients", received=bufs, tag=1)
        grad = None
    settle(returning, ring.size - 1)


def _acc(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32
