"""The ring as one operator for ``torch.compile``: the model around it compiles in one graph.

The ring talks to other processes and builds cached Python schedules, which a compiler cannot
trace; so under compilation ``ring.attention`` calls two custom operators instead
(``ringlib::ring_attention`` and its backward), each running the same strategy as the eager
ring (``ring.eager.prepare`` / ``ring.eager.strategy``), registered with an autograd formula whose backward
is the ring backward. Dynamo traces the user's projections around them without a break
(``fullgraph=True`` holds).

What is not a tensor (the pattern, the group, the ordering, the other arguments) is filed
under a string key while the compiler traces (``register``: run eagerly, its result a
constant of the graph); the operators take that key. The fake implementation gives the
shapes of what the forward saves for the backward from the strategy itself.
A dropout seed drawn at run time (``dropout_p > 0`` without ``dropout_seed``) is an output of
the forward operator, so the backward drops the same entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

Tensor = torch.Tensor


@dataclass(frozen=True)
class RingCall:
    """The non-tensor arguments of one ring call."""

    pattern: object
    group_name: str
    causal: bool
    scale: float | None
    ordering: object
    dropout_p: float
    dropout_seed: int | None
    backend: str
    layout: str

    def group(self):
        from torch.distributed.distributed_c10d import _resolve_process_group

        return _resolve_process_group(self.group_name)

    def options(self, seed: int | None = None) -> dict:
        return dict(group=self.group(), causal=self.causal, scale=self.scale, ordering=self.ordering,
                    dropout_p=self.dropout_p, backend=self.backend, layout=self.layout,
                    dropout_seed=self.dropout_seed if seed is None else seed)


_CALLS: dict[str, RingCall] = {}
_KEYS: dict[RingCall, str] = {}


@torch._dynamo.assume_constant_result
def register(pattern, group_name: str, causal: bool, scale: float | None, ordering, dropout_p: float,
             dropout_seed: int | None, backend: str, layout: str) -> str:
    """The key of a call's arguments (equal arguments, equal key). Runs eagerly while the
    compiler traces, so the operators find the key when the graph runs."""
    call = RingCall(pattern, group_name, bool(causal), scale, ordering, float(dropout_p), dropout_seed, backend,
                    layout)
    if call not in _KEYS:
        _KEYS[call] = f"ring-call-{len(_KEYS)}"
        _CALLS[_KEYS[call]] = call
    return _KEYS[call]


def attention(q: Tensor, k: Tensor, v: Tensor, pattern, *, group, causal: bool, scale: float | None, ordering,
              dropout_p: float, dropout_seed: int | None, backend: str, layout: str) -> Tensor:
    key = register(pattern, group.group_name, causal, scale, ordering, dropout_p, dropout_seed, backend, layout)
    return _forward_op(q, k, v, key)[0]


def _run_strategy(q: Tensor, k: Tensor, v: Tensor, call: RingCall, seed: int | None):
    from ringlib import dispatch
    from ringlib.ring.eager import _scale, strategy

    import torch.distributed as dist

    opts = call.options(seed)
    group = opts.pop("group")
    return strategy(call.pattern, dispatch.Call.of(q, k, v, dist.get_world_size(group)), group=group,
                    **{**opts, "scale": _scale(q, call.scale)})


_NO_SEED = -1


@torch.library.custom_op("ringlib::ring_attention", mutates_args=())
def _forward_op(q: Tensor, k: Tensor, v: Tensor, key: str) -> list[Tensor]:
    """[output, dropout seed (-1: none), *what the strategy saves for its backward]."""
    from ringlib.ring.eager import prepare
    from ringlib.ring.comm import inside_ring

    call = _CALLS[key]
    opts = call.options()
    group = opts["group"]
    strategy = prepare(q, k, v, call.pattern, **opts)
    seed = strategy.dropout[1] if getattr(strategy, "dropout", None) else _NO_SEED
    q, k, v = (t.contiguous() for t in (q, k, v))
    with inside_ring(group, "inside the ring (forward)"):
        out, saved = strategy.forward(q, k, v)
    return [out.contiguous(), torch.tensor(seed, dtype=torch.int64), *(t.contiguous() for t in saved)]


@_forward_op.register_fake
def _(q, k, v, key):
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    call = _CALLS[key]
    with unset_fake_temporarily():  # the schedules are built of (and cached as) real tensors
        seed = 0 if call.dropout_p > 0.0 and call.dropout_seed is None else None
        specs = _run_strategy(q, k, v, call, seed).saved_specs(tuple(q.shape), q.dtype)
    return [torch.empty_like(q, memory_format=torch.contiguous_format), q.new_empty((), dtype=torch.int64),
            *(q.new_empty(shape, dtype=dtype) for shape, dtype in specs)]


@torch.library.custom_op("ringlib::ring_attention_backward", mutates_args=())
def _backward_op(dout: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, seed: Tensor, saved: list[Tensor],
                 key: str) -> list[Tensor]:
    from ringlib.ring.comm import inside_ring

    call = _CALLS[key]
    drawn = int(seed)
    strategy = _run_strategy(q, k, v, call, None if drawn == _NO_SEED else drawn)
    q, k, v = (t.contiguous() for t in (q, k, v))
    with inside_ring(strategy.group, "inside the ring (backward)"):
        return list(strategy.backward(dout.contiguous(), q, k, v, out, tuple(saved)))


@_backward_op.register_fake
def _(dout, q, k, v, out, seed, saved, key):
    return [torch.empty_like(t, memory_format=torch.contiguous_format) for t in (q, k, v)]


def _setup_context(ctx, inputs, output):
    q, k, v, key = inputs
    ctx.key = key
    ctx.save_for_backward(q, k, v, *output)


def _backward(ctx, grads):
    q, k, v, out, seed, *saved = ctx.saved_tensors
    dq, dk, dv = _backward_op(grads[0], q, k, v, out, seed, saved, ctx.key)
    return dq, dk, dv, None


_forward_op.register_autograd(_backward, setup_context=_setup_context)
