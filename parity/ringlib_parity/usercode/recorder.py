"""Hooks that record every attention call a program makes, without changing what it computes.

Recorded are the *outermost* calls of attention: a module of the old package
(``dilated_attention_pytorch``, the shim's classes or the original ones), a ringlib module
(``ringlib.DilatedAttention``, ``ringlib.MultiheadDilatedAttention``,
``ringlib.AdaptiveBlockSparseAttention``) or the function ``ringlib.attention``. Calls made
inside another recorded call (a module's inner ``DilatedAttention``) are part of it.

Each call is stored with where it happened: ``path``, the module's qualified name in the
outermost running module (``TinyLM.block1.dilated``; empty when the test called the module
itself; for ``ringlib.attention`` the enclosing module's path), and ``call``, how many times
the same path and target were called before in the same scope.

Never changing the result: the hooks are global ``nn.Module`` forward hooks (they return
None, so outputs pass through untouched), tensors are detached before they are read,
nothing draws random numbers, and gradients are read by tensor hooks that return None.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch
from torch import nn

from ringlib_parity.usercode import names
from ringlib_parity.usercode.digest import Digest, digest

FUNCTIONS = ("attention",)  # ringlib functions recorded when user code calls them


@dataclass
class Call:
    index: int  # position in the scope's call sequence
    path: str
    call: int  # earlier calls of the same (path, target) in this scope
    target: str  # "ringlib.MultiheadDilatedAttention", "dilated_attention_pytorch.ring.X", "ringlib.attention"
    legacy: str | None  # registry key of an old class
    inputs: list[Digest] = field(default_factory=list)  # tensor arguments (no full copies)
    outputs: list[Digest] = field(default_factory=list)
    grads: list[Digest | None] = field(default_factory=list)  # per input tensor that required grad
    tensors: dict[tuple[str, int], torch.Tensor] = field(default_factory=dict, repr=False)  # full copies

    @property
    def where(self) -> str:
        return f"{self.path or '(called directly)'} #{self.call}"

    def to_json(self) -> dict:
        return {"index": self.index, "path": self.path, "call": self.call, "target": self.target,
                "legacy": self.legacy, "inputs": [d.to_json() for d in self.inputs],
                "outputs": [d.to_json() for d in self.outputs],
                "grads": [d.to_json() if d else None for d in self.grads]}

    @classmethod
    def from_json(cls, data: dict) -> "Call":
        return cls(data["index"], data["path"], data["call"], data["target"], data["legacy"],
                   [Digest.from_json(d) for d in data["inputs"]], [Digest.from_json(d) for d in data["outputs"]],
                   [Digest.from_json(d) if d else None for d in data["grads"]])


def target_of(cls: type) -> tuple[str, str | None] | None:
    """``(target, legacy key)`` for an attention class, None for any other module."""
    if names.is_old(cls):
        path = f"{cls.__module__}.{cls.__qualname__}"
        return path, names.legacy_key(path, cls.__name__)
    from ringlib.adaptive import AdaptiveBlockSparseAttention
    from ringlib.modules import DilatedAttention, MultiheadDilatedAttention

    for public in (MultiheadDilatedAttention, DilatedAttention, AdaptiveBlockSparseAttention):
        if issubclass(cls, public):
            return f"ringlib.{public.__name__}", None
    return None


def _tensors(value) -> list[torch.Tensor]:
    """Tensors of an output or argument list, in order (tuples, lists, dict values)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


class Recorder:
    """Records the calls of one scope (a test, a script) at a time; ``install`` once."""

    def __init__(self, *, full: bool = False, grads: bool = False) -> None:
        self.full, self.grads = full, grads
        self.scope: str | None = None
        self.calls: list[Call] = []
        self._stack: list[nn.Module] = []  # running modules, outermost first
        self._inside = 0  # running recorded calls
        self._seen: dict[tuple[str, str], int] = {}
        self._targets: dict[type, tuple[str, str | None] | None] = {}
        self._handles: list = []
        self._patched: list[tuple[object, str, object]] = []

    # ------------------------------------------------------------------ installation

    def install(self) -> "Recorder":
        import ringlib
        import ringlib.functional

        self._handles = [nn.modules.module.register_module_forward_pre_hook(self._before),
                         nn.modules.module.register_module_forward_hook(self._after, with_kwargs=True,
                                                                        always_call=True)]
        for name in FUNCTIONS:
            original = getattr(ringlib.functional, name)
            wrapped = self._wrap(original, f"ringlib.{name}")
            for owner in (ringlib.functional, ringlib):
                self._patched.append((owner, name, owner.__dict__.get(name)))
                setattr(owner, name, wrapped)
        return self

    def uninstall(self) -> None:
        for handle in self._handles:
            handle.remove()
        for owner, name, original in reversed(self._patched):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._handles, self._patched = [], []

    # ------------------------------------------------------------------ scopes

    def begin(self, scope: str) -> None:
        self.scope, self.calls, self._seen = scope, [], {}

    def end(self) -> list[Call]:
        calls, self.scope, self.calls = self.calls, None, []
        return calls

    # ------------------------------------------------------------------ hooks

    def _target(self, module: nn.Module):
        cls = type(module)
        if cls not in self._targets:
            self._targets[cls] = target_of(cls)
        return self._targets[cls]

    def _before(self, module: nn.Module, args) -> None:
        self._stack.append(module)
        if self.scope is not None and self._target(module) is not None:
            self._inside += 1

    def _after(self, module: nn.Module, args, *rest) -> None:
        # (kwargs, output) after a normal forward; (output,) when the forward raised
        output = rest[-1]
        kwargs = rest[0] if len(rest) == 2 else {}
        while self._stack and self._stack.pop() is not module:
            pass
        target = self._target(module) if self.scope is not None else None
        if target is None or self._inside == 0:
            return
        self._inside -= 1
        if self._inside == 0 and len(rest) == 2:
            self._record(target[0], target[1], self._path(module), (args, kwargs), output)

    def _wrap(self, function, target: str):
        recorder = self

        @functools.wraps(function)
        def recorded(*args, **kwargs):
            if recorder.scope is None or recorder._inside:
                return function(*args, **kwargs)
            recorder._inside += 1
            try:
                output = function(*args, **kwargs)
            finally:
                recorder._inside -= 1
            recorder._record(target, None, recorder._path(recorder._stack[-1]) if recorder._stack else "",
                             (args, kwargs), output)
            return output

        return recorded

    # ------------------------------------------------------------------ what is kept

    def _path(self, module: nn.Module) -> str:
        root = self._stack[0] if self._stack else module
        if root is module:
            return ""
        for name, child in root.named_modules():
            if child is module:
                return f"{type(root).__name__}.{name}"
        return type(module).__name__

    def _record(self, target: str, legacy: str | None, path: str, inputs, output) -> None:
        seen = self._seen.get((path, target), 0)
        self._seen[(path, target)] = seen + 1
        call = Call(len(self.calls), path, seen, target, legacy)
        call.inputs = [digest(tensor)[0] for tensor in _tensors(inputs)]
        for j, tensor in enumerate(_tensors(output)):
            call.outputs.append(self._digest(call, ("outputs", j), tensor))
        if self.grads and torch.is_grad_enabled():
            for j, tensor in enumerate(t for t in _tensors(inputs) if t.requires_grad):
                call.grads.append(None)
                tensor.register_hook(functools.partial(self._on_grad, call, j))
        self.calls.append(call)

    def _on_grad(self, call: Call, j: int, grad: torch.Tensor) -> None:
        call.grads[j] = self._digest(call, ("grads", j), grad)  # returns None: the gradient is unchanged

    def _digest(self, call: Call, label: tuple[str, int], tensor: torch.Tensor) -> Digest:
        result, full = digest(tensor, keep=self.full)
        if full is not None:
            call.tensors[label] = full
        return result
