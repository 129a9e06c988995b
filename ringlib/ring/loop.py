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
