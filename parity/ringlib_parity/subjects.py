"""What is being checked, and how to call it: a legacy name (through the shim and through its
canonical rewrite) or a canonical pattern.

Calling conventions are read from signatures, never from a table of names: an old class
whose forward takes ``x``/``x_local`` gets ``(batch, seq, embed_dim)`` input, one taking
``q, k, v`` gets ``(batch, seq, heads, head_dim)``, ``query, key, value`` gets three
``(batch, seq, embed_dim)`` tensors; functions (and ``autograd.Function``s) take
``(batch, heads, seq, head_dim)`` like the old ring functions; an object with
``update``/``get`` is an accumulator of partial attention results.

What a signature cannot tell is data too: ``SUBJECTS`` holds, per registry key, the few
facts about an old class's inputs that differ from those conventions.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from ringlib_legacy.checkpoints import map_state_dict
from ringlib_legacy.schema import KeyMap
from ringlib_parity.matrix import VOCABULARY, Shape

Tensor = torch.Tensor

# forward/function parameter name -> input role
ROLES = {"x": "x", "x_local": "x", "input": "x", "src": "x", "tgt": "x", "tokens": "x", "memory": "memory",
         "q": "q", "k": "k", "v": "v", "q_local": "q", "k_local": "k", "v_local": "v", "query": "query", "key": "key", "value": "value",
         "q_summary": "q_summary", "k_summary": "k_summary"}
#: block summaries (the adaptive scorer's inputs): one row per block of this many tokens
SUMMARY_BLOCK = 32
# values of the non-tensor parameters of the old functions (single process, no dropout)
FUNCTION_FILL = {"dropout_p": 0.0, "rank": 0, "world_size": 1, "local_seq_start": 0,
                 "use_hilbert": False, "hilbert_indices": None}
#: a decoder layer's two flags (self- and cross-attention) follow the variant's causal flag together
CAUSAL_KEYWORDS = ("is_causal", "causal", "tgt_is_causal", "memory_is_causal")
# a forward taking q/k/v is given query/key/value inputs (and back) when only those exist
ALIASES = {"q": "query", "k": "key", "v": "value", "query": "q", "key": "k", "value": "v"}


@dataclass(frozen=True)
class Subject:
    """Facts about one old class's inputs that its signature does not tell."""

    #: the old forward required the sequence to be a multiple of the largest segment length
    #: (it is checked on ``Matrix.whole_segment_sets``)
    whole_segments: bool = False
    #: its ``query``/``key``/``value`` are ``(batch, seq, heads, head_dim)``, not ``(batch, seq, embed_dim)``
    head_inputs: bool = False
    #: its ``x`` is ``(batch, seq)`` token ids below ``matrix.VOCABULARY`` (a language model)
    token_inputs: bool = False


#: registry key -> what the generic conventions get wrong for it
SUBJECTS: dict[str, Subject] = {
    "DilatedAttention": Subject(whole_segments=True, head_inputs=True),
    "ImprovedDilatedAttention": Subject(whole_segments=True, head_inputs=True),
    # chooses its segments from the input: any length, (batch, seq, heads, head_dim) query/key/value
    "DynamicDilatedAttention": Subject(head_inputs=True),
    # 0.2 raised "Sequence length (128) must be divisible by the largest segment length (96)"
    "MultiheadDilatedAttention": Subject(whole_segments=True),
    # the old transformer models are built of that MultiheadDilatedAttention
    "DilatedTransformerEncoderLayer": Subject(whole_segments=True),
    "DilatedTransformerDecoderLayer": Subject(whole_segments=True),
    "LongNet": Subject(whole_segments=True),
    "LongNetLM": Subject(whole_segments=True, token_inputs=True),
}


def resolve(path: str, root: str | None = None) -> Any:
    """Import a dotted path ``package.module.Name`` (longest importable module prefix).
    ``root`` replaces the first component (an original package vendored under another name)."""
    parts = path.split(".")
    if root:
        parts[0:1] = root.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(f"cannot import {path}")


def kind_of(obj: Any) -> str:
    if isinstance(obj, type) and issubclass(obj, nn.Module):
        return "module"
    if isinstance(obj, type) and issubclass(obj, torch.autograd.Function):
        return "function"
    if isinstance(obj, type) and callable(getattr(obj, "update", None)) and callable(getattr(obj, "get", None)):
        return "accumulator"
    if callable(obj) and not isinstance(obj, type):
        return "function"
    return "other"


def _signature(fn: Callable) -> list[inspect.Parameter]:
    if isinstance(fn, type) and issubclass(fn, torch.autograd.Function):
        params = list(inspect.signature(fn.forward).parameters.values())[1:]  # drop ctx
    else:
        params = list(inspect.signature(fn).parameters.values())
    return [p for p in params if p.name not in ("self",)]


def tensor_roles(fn: Callable) -> list[str]:
    """Roles of the leading tensor parameters of a forward or function, in order."""
    roles = []
    for p in _signature(fn):
        if p.name in ROLES and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            roles.append(ROLES[p.name])
        else:
            break
    return roles


def takes_causal(fn: Callable) -> bool:
    return any(p.name in CAUSAL_KEYWORDS for p in _signature(fn))


def make_inputs(roles: list[str], layout: str, shape: Shape, seed: int, dtype=torch.float64,
                device="cpu", head_inputs: bool = False, token_inputs: bool = False) -> dict[str, Tensor]:
    """Seeded inputs (drawn in float64 on the CPU, then cast: every dtype sees the same values).
    ``head_inputs``: ``query``/``key``/``value`` are shaped like ``q``/``k``/``v``;
    ``token_inputs``: ``x`` is ``(batch, seq)`` token ids below ``VOCABULARY`` (never cast)."""
    gen = torch.Generator().manual_seed(seed)
    b, n, h, d = shape.batch, shape.seq, shape.heads, shape.head_dim
    embed = (b, n, h, d) if head_inputs else (b, n, h * d)
    summaries = (b, max(1, n // SUMMARY_BLOCK), d)
    if token_inputs:
        tokens = torch.randint(0, VOCABULARY, (b, n), generator=gen).to(device)
        return {role: tokens for role in roles}
    dims = {"x": (b, n, h * d), "memory": (b, n, h * d), "query": embed, "key": embed, "value": embed,
            "q": (b, n, h, d), "k": (b, n, h, d), "v": (b, n, h, d), "q_summary": summaries, "k_summary": summaries}
    if layout == "bhld":
        dims.update({r: (b, h, n, d) for r in "qkv"})
    return {role: torch.randn(dims[role], generator=gen, dtype=torch.float64).to(device, dtype)
            for role in roles}


def first_tensor(out: Any) -> Tensor:
    if isinstance(out, Tensor):
        return out
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], Tensor):
        return out[0]
    raise TypeError(f"expected a tensor or a tuple starting with one, got {type(out).__name__}")


def forward_call(fn: Callable, inputs: dict[str, Tensor], causal: bool, shape: Shape | None = None,
                 positional_all: bool = False) -> tuple[list, dict]:
    """``(args, kwargs)`` for calling a forward/function on role-named inputs."""
    args, kwargs = [], {}
    for p in _signature(fn):
        role = ROLES.get(p.name)
        if role is not None and role not in inputs and ALIASES.get(role) in inputs:
            role = ALIASES[role]
        if role in inputs:
            args.append(inputs[role])
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in CAUSAL_KEYWORDS:
            value = causal
        elif p.name == "scale" and positional_all:
            value = shape.head_dim ** -0.5
        elif p.name in FUNCTION_FILL and (positional_all or p.default is p.empty):
            value = FUNCTION_FILL[p.name]
        elif p.default is not p.empty:
            continue
        else:
            raise TypeError(f"no value for parameter {p.name!r}")
        if positional_all or p.kind == p.POSITIONAL_ONLY:
            args.append(value)
        else:
            kwargs[p.name] = value
    if causal and not takes_causal(fn):
        raise TypeError("causal requested but the callable takes no is_causal")
    return args, kwargs


def call(obj: Any, inputs: dict[str, Tensor], causal: bool, shape: Shape) -> Tensor:
    """Run a module, function or autograd.Function on role-named inputs; the output tensor."""
    if isinstance(obj, nn.Module):
        args, kwargs = forward_call(obj.forward, inputs, causal)
        return first_tensor(obj(*args, **kwargs))
    if isinstance(obj, type) and issubclass(obj, torch.autograd.Function):
        args, _ = forward_call(obj, inputs, causal, shape, positional_all=True)
        return first_tensor(obj.apply(*args))
    args, kwargs = forward_call(obj, inputs, causal, shape)
    return first_tensor(obj(*args, **kwargs))


def set_backend(module: nn.Module, backend: str) -> bool:
    """Point every ringlib attention submodule at ``backend``; False if there is none."""
    found = False
    for m in module.modules():
        if isinstance(getattr(m, "backend", None), str):
            m.backend = backend
            found = True
    return found


def transfer_weights(src: nn.Module, dst: nn.Module, rules: KeyMap | None = None) -> None:
    """Copy ``src``'s state into ``dst`` matching keys exactly or by dotted suffix (the shim may
    keep old prefixes such as ``attention.``); keys without a unique match stay as they are.
    ``rules``: the registry's checkpoint key map of the old class, applied first (the shim's keys
    are the old class's)."""
    src_state = src.state_dict() if rules is None else map_state_dict(src.state_dict(), rules)
    dst_state = dst.state_dict()
    update = {}
    for key, value in dst_state.items():
        if key in src_state:
            update[key] = src_state[key]
            continue
        matches = [k for k in src_state if k.endswith("." + key) or key.endswith("." + k)]
        if len(matches) == 1 and src_state[matches[0]].shape == value.shape:
            update[key] = src_state[matches[0]]
    with torch.no_grad():
        for key, value in update.items():
            dst_state[key].copy_(value)


@dataclass
class ChunkedAttention:
    """Inputs of an accumulator check: two key chunks' partial attention results."""

    chunks: list[tuple[Tensor, Tensor]]  # (normalised output (B,H,L,D), lse (B,H,L,1))
    leaves: list[Tensor]

    @staticmethod
    def build(q: Tensor, k: Tensor, v: Tensor, scale: float, causal: bool) -> "ChunkedAttention":
        n = k.shape[-2]
        cut = n // 2
        chunks = []
        for lo, hi in ((0, cut), (cut, n)):
            s = (q @ k[..., lo:hi, :].transpose(-1, -2)) * scale
            if causal:
                allowed = torch.arange(lo, hi, device=q.device)[None, :] <= torch.arange(n, device=q.device)[:, None]
                s = s.masked_fill(~allowed, float("-inf"))
            lse = torch.logsumexp(s, dim=-1, keepdim=True)
            safe = torch.where(torch.isfinite(lse), lse, torch.zeros_like(lse))
            o = torch.exp(s - safe) @ v[..., lo:hi, :]
            chunks.append((o, lse))
        return ChunkedAttention(chunks, [])


def run_accumulator(obj: Any, chunks: list[tuple[Tensor, Tensor]]) -> Tensor:
    for o, lse in chunks:
        obj.update(o, lse)
    return first_tensor(obj.get())
