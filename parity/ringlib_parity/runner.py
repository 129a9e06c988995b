"""The parity checks, over every registry name (and the canonical patterns) and the matrix.

For each name and variant of the matrix:

1. ``bitwise``: the shim's instance and the instance built by the codemod's rewrite of
   the same old call (``ringlib_parity.recipe``) give bit-identical outputs and input
   gradients on the same weights and inputs. On CUDA both run under
   ``torch.use_deterministic_algorithms(True)`` (atomics-free ``index_add``, SDPA backwards
   without split keys); outputs must still be bit-identical, and a gradient may differ only
   where the shim's own gradient differs between two runs, and then by at most
   ``K * run-to-run + floor`` (the flash rule with the shim's rerun as the "plain" run).
2. ``backend``: the rewrite's canonical object, on every available backend and dtype,
   against the float64 reference backend, forward and backward, with the rule of
   ``ringlib_parity.tolerance``. Both the "preserve" and (where it differs) the "intended"
   rewrite are checked.
3. ``against`` (optional): the original implementation, run in a subprocess on the same
   old call, weights and inputs (``ringlib_parity.against``).
4. Gradients of inputs and parameters everywhere a backward exists.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import gc
import os
import time
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn

from ringlib_parity import recipe, tolerance
from ringlib_parity.matrix import Matrix, Variant, config_to_plain, constructor_kwargs, default_matrix, variants
from ringlib_parity.report import ERROR, FAIL, PASS, SKIP, Report, Result, emit
from ringlib_parity.subjects import (
    SUBJECTS,
    ChunkedAttention,
    Subject,
    call,
    forward_call,
    kind_of,
    make_inputs,
    resolve,
    run_accumulator,
    set_backend,
    takes_causal,
    tensor_roles,
    transfer_weights,
)

Tensor = torch.Tensor
DTYPES = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16,
          "float16": torch.float16}
SHIM_PACKAGE = "dilated_attention_pytorch"
CONFIG_CLASSES = ("SparsePatternConfig", "AdaptiveConfig", "DistributedSparseConfig")
BITWISE_RULE = {
    False: "shim == rewrite bit for bit (float32 outputs and input gradients)",
    True: "shim == rewrite bit for bit under torch.use_deterministic_algorithms(True) (float32 outputs "
          "and input gradients); a gradient whose shim run is not reproducible run to run is held to "
          f"{tolerance.K} * run-to-run + floor[float32] * max(1, |grad|max)",
}


def available_backends(device: torch.device) -> list[str]:
    """Backends to test besides the reference: sdpa everywhere, flex on CUDA, ring under
    torchrun (an initialised process group with more than one rank)."""
    out = ["sdpa"]
    if device.type == "cuda":
        out.append("flex")
    if _ring_group() is not None:
        out.append("ring")
    return out


def _ring_group():
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist.group.WORLD
    return None


def _seed(*parts: Any) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode()) & 0x7FFFFFFF


@contextlib.contextmanager
def _quiet():
    """The shim warns on every old name by design; the harness uses them on purpose."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def _plain_precision(dtype: torch.dtype):
    """The plain low-precision computation: the reference backend with its output in the
    inputs' dtype.

    The reference backend combines parts with float32 intermediates (Python-scalar
    ``torch.where`` fills promote bfloat16/float16 to float32), so ``backend="reference"``
    on bfloat16 input returns float32. A module around it then feeds a float32 tensor to its
    bfloat16 ``out_proj``/LayerNorm and fails ("mat1 and mat2 must have the same dtype").
    Here its output is rounded to the inputs' dtype at the attention boundary, which is what
    the rule's "plain computation in that precision" means. (No-op in float64 and once the
    backend keeps the dtype itself.)"""
    from ringlib.backends import reference

    original = reference.attention
    if dtype == torch.float64:
        yield
        return

    def attention(q, k, v, *args, **kwargs):
        out = original(q, k, v, *args, **kwargs)
        return out if out.dtype == q.dtype else out.to(q.dtype)

    reference.attention = attention
    try:
        yield
    finally:
        reference.attention = original


@contextlib.contextmanager
def _deterministic(device: torch.device, warn_only: bool = False):
    """Deterministic kernels on CUDA for the bitwise check (nothing changes on the CPU).

    CUDA ``index_add`` (block-sparse ``sdpa`` forward and backward) accumulates with atomics
    unless deterministic mode is on; the memory-efficient and flash SDPA backwards split
    keys and accumulate dq with atomics unless it is on *strictly* (``warn_only=True``
    keeps their nondeterministic algorithm)."""
    if device.type != "cuda":
        yield
        return
    enabled = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=warn_only)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=was_warn_only)


def _paired_runs(run_a: Callable[[], "Evaluation"], run_b: Callable[[], "Evaluation"],
                 device: torch.device) -> tuple["Evaluation", "Evaluation", bool, str]:
    """Both sides of the bitwise check, under deterministic kernels on CUDA:
    ``(a, b, warn_only, note)``. Where an op has no deterministic CUDA kernel (or cuBLAS
    was initialised without ``CUBLAS_WORKSPACE_CONFIG``) strict mode raises; both sides then
    run with ``warn_only=True`` and ``note`` says so."""
    if device.type != "cuda":
        return run_a(), run_b(), False, ""
    try:
        with _deterministic(device):
            return run_a(), run_b(), False, ""
    except RuntimeError as exc:
        text = str(exc)
        if "determinis" not in text.lower() and "CUBLAS_WORKSPACE_CONFIG" not in text:
            raise
        reason = text.strip().splitlines()[0][:160]
    with _deterministic(device, warn_only=True):
        return run_a(), run_b(), True, f"strict deterministic mode unavailable ({reason}); ran with warn_only=True"


def _release(device: torch.device) -> None:
    """Give cached CUDA memory back (after an out-of-memory error, so that the next cases
    do not inherit a full allocator)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# ------------------------------------------------------------------------------------------
# an "evaluation": build the object, run forward and backward, return the named quantities


@dataclass
class Evaluation:
    """Everything one (object, dtype, backend) run produced: output and gradients."""

    quantities: dict[str, Tensor] = field(default_factory=dict)


def _run(fn: Callable[[dict[str, Tensor]], Tensor], inputs: dict[str, Tensor], params: Sequence[tuple[str, Tensor]],
         grad_seed: int, grads: bool) -> Evaluation:
    leaves = {role: t.detach().clone().requires_grad_(grads and t.is_floating_point()) for role, t in inputs.items()}
    out = fn(leaves)
    ev = Evaluation({"output": out.detach()})
    if not grads or not out.requires_grad:
        return ev
    gen = torch.Generator().manual_seed(grad_seed)
    grad_out = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out.device, out.dtype)
    differentiable = [role for role, t in leaves.items() if t.requires_grad]  # not token ids
    wrt = [*(leaves[role] for role in differentiable), *(p for _, p in params)]
    if not wrt:  # token inputs and no parameters asked for: the output is all there is
        return ev
    got = torch.autograd.grad(out, wrt, grad_out, allow_unused=True)
    for role, g in zip(differentiable, got[: len(differentiable)]):
        ev.quantities[f"grad {role}"] = torch.zeros_like(leaves[role]) if g is None else g
    if params:
        flat = [torch.zeros_like(p).flatten() if g is None else g.flatten()
                for (_, p), g in zip(params, got[len(differentiable):])]
        ev.quantities["grad params"] = torch.cat(flat)
    return ev


def _place(module: nn.Module, device: torch.device) -> None:
    """Put a bitwise-check instance on the inputs' device, in float32 if it chose a half type.

    Some old classes place themselves (``cuda_if_available()``; float16 on sm70+ GPUs), and a
    rewrite without ``device=`` (the old class took none) builds on the CPU: on CUDA the two
    sides would not even meet the inputs. Both are moved as a user's model is moved; the
    weights are the shim's either way (``transfer_weights``). On the CPU this is a no-op."""
    module.to(device=device)
    if any(t.is_floating_point() and t.dtype in (torch.float16, torch.bfloat16)
           for t in (*module.parameters(), *module.buffers())):
        module.to(dtype=torch.float32)


def _module_params(module: nn.Module) -> list[tuple[str, Tensor]]:
    return [(n, p) for n, p in module.named_parameters() if p.requires_grad and p.is_floating_point()]


# ------------------------------------------------------------------------------------------


@dataclass
class Case:
    """One name at one variant, with everything the checks need."""

    name: str
    label: str
    variant: Variant
    seed: int
    # evaluate(dtype, backend) -> Evaluation; raises BackendUnsupported where n/a
    evaluate: Callable[[torch.dtype, str], Evaluation]
    # for the --against subprocess (legacy names only)
    job: dict | None = None
    divergences: tuple = ()
    same_as: str | None = None  # identical computation already checked (same rewrite, variant)


class BackendUnsupported(Exception):
    pass


def _backend_compare(case: Case, dtypes: Sequence[torch.dtype], backends: Sequence[str], device,
                     report: Report, semantics: str, on_result) -> Evaluation | None:
    """Check 2 (and 4) for one case; returns the float64 reference evaluation."""
    tag = case.label if semantics == "preserve" else f"{case.label} [intended]"
    out_of_memory = False
    try:
        ref = case.evaluate(torch.float64, "reference")
    except BackendUnsupported as exc:  # nothing canonical defines what this instance computes
        emit(report, on_result, Result(case.name, tag, "backend", "reference", "float64", "output", SKIP,
                                       message=str(exc)))
        return None
    except Exception as exc:  # the reference itself failed: nothing can be judged
        out_of_memory = isinstance(exc, torch.OutOfMemoryError)
        emit(report, on_result, Result(case.name, tag, "backend", "reference", "float64", "output", ERROR,
                                       message=_exc(exc)))
        ref = None
    if ref is None:
        if out_of_memory:  # outside the except block: its traceback no longer holds the tensors
            _release(device)
        return None
    for dtype in dtypes:
        dname = str(dtype).replace("torch.", "")
        try:  # in float64 the plain computation *is* the reference
            if dtype == torch.float64:
                plain = ref
            else:
                with _plain_precision(dtype):
                    plain = case.evaluate(dtype, "reference")
        except Exception as exc:
            emit(report, on_result, Result(case.name, tag, "backend", "reference", dname, "output", ERROR,
                                           message=f"plain computation failed: {_exc(exc)}"))
            continue
        for backend in backends:
            try:
                tested = case.evaluate(dtype, backend)
            except BackendUnsupported as exc:
                emit(report, on_result, Result(case.name, tag, "backend", backend, dname, "output", SKIP,
                                               message=str(exc)))
                continue
            except Exception as exc:
                emit(report, on_result, Result(case.name, tag, "backend", backend, dname, "output", ERROR,
                                               message=_exc(exc)))
                continue
            out_t, out_p = tested.quantities.get("output"), plain.quantities.get("output")
            if (dtype != torch.float64 and out_t is not None and out_p is not None and out_t.abs().max() > 0
                    and torch.equal(out_t, out_p)):
                emit(report, on_result, Result(case.name, tag, "backend", backend, dname, "output", ERROR,
                                               message="selecting the backend had no effect: the tested path is the "
                                                       "reference path bit for bit (does forward pass backend=?)"))
                continue
            for quantity, reference in ref.quantities.items():
                if quantity not in tested.quantities or quantity not in plain.quantities:
                    emit(report, on_result, Result(case.name, tag, "backend", backend, dname, quantity, FAIL,
                                                   message="quantity missing from the tested run"))
                    continue
                ok, err, plain_err, limit = tolerance.judge(tested.quantities[quantity], plain.quantities[quantity],
                                                            reference.to(device), dtype)
                emit(report, on_result, Result(case.name, tag, "backend", backend, dname, quantity,
                                               PASS if ok else FAIL, err, limit, plain_err))
    return ref


def _bitwise(name: str, label: str, a: Evaluation, b: Evaluation, report: Report, on_result, source: str,
             rerun: Callable[[], Evaluation] | None = None, note: str = "") -> None:
    """Check 1: every quantity of ``a`` (the shim) and ``b`` (the rewrite) bit for bit.

    On the CPU that is the whole rule. On CUDA both sides ran under deterministic kernels
    (``_paired_runs``); ``rerun`` runs the shim once more in the same mode. A gradient that
    differs is then held to the flash-style bound ``K * (shim vs shim) + floor`` only where
    the shim's own gradient differs between two runs (a backward kernel without a
    deterministic algorithm): that is the most bit equality can mean for it. Outputs are
    never relaxed: a forward that is not reproducible run to run fails and says so."""
    again: list[Evaluation] = []

    def second() -> Evaluation:
        if not again:
            again.append(rerun())
        return again[0]

    for quantity in a.quantities:
        if quantity == "grad params":
            continue  # parameter names may differ (old prefixes); inputs and output decide
        x, y = a.quantities[quantity], b.quantities.get(quantity)
        dname = str(x.dtype).replace("torch.", "")
        same = y is not None and x.shape == y.shape and x.dtype == y.dtype and torch.equal(x, y)
        err = None if y is None or x.shape != y.shape else tolerance.max_abs(x, y)
        status, limit, run_to_run = (PASS if same else FAIL), 0.0, None
        msg = "" if same else f"shim and rewrite `{source}` differ"
        if not same and rerun is not None and err is not None and x.dtype == y.dtype:
            z = second().quantities.get(quantity)
            if z is not None and z.shape == x.shape and not torch.equal(x, z):
                run_to_run = tolerance.max_abs(x, z)
                if quantity == "output":
                    msg += (f"; the shim's forward is not reproducible on this device (two runs differ by "
                            f"{run_to_run:.3e}): a forward kernel without a deterministic algorithm")
                else:
                    limit = tolerance.bound(run_to_run, x, x.dtype)
                    status = PASS if err <= limit else FAIL
                    msg = (f"{'' if status == PASS else msg + '; '}the backward is not reproducible on this "
                           f"device (two runs of the shim differ by {run_to_run:.3e}): held to "
                           f"{tolerance.K} * run-to-run + floor")
            elif z is not None:
                msg += " (the shim itself is reproducible run to run)"
        if note and status != PASS:
            msg += f"; {note}"
        emit(report, on_result, Result(name, label, "bitwise", "shim", dname, quantity, status, err, limit,
                                       run_to_run, message=msg))


def _exc(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 400 else text[:400] + "..."


# ------------------------------------------------------------------------------------------
# legacy names


def _shim_object(entry):
    errors = []
    with _quiet():
        for path in entry.paths:
            try:
                return resolve(path)
            except Exception as exc:  # noqa: PERF203 - try every old path
                errors.append(f"{path}: {_exc(exc)}")
    raise ImportError("; ".join(errors) or f"{entry.name} has no paths")


def _configs() -> dict[str, type]:
    import importlib

    out = {}
    with _quiet():
        try:
            package = importlib.import_module(SHIM_PACKAGE)
        except ImportError:
            return out
        for name in CONFIG_CLASSES:
            try:
                out[name] = getattr(package, name)
            except Exception:  # noqa: BLE001 - a shim still being built: checks needing it report errors
                pass
    return out


def _legacy_cases(entry, device, matrix: Matrix, grads: bool, report: Report, on_result) -> Iterable[tuple[str, Case]]:
    """Yield ``(semantics, case)`` for one registry name; emits bitwise results on the way."""
    try:
        old = _shim_object(entry)
    except Exception as exc:
        emit(report, on_result, Result(entry.key, "-", "bitwise", "shim", "-", "import", ERROR, message=_exc(exc)))
        return
    kind = kind_of(old)
    if kind == "other":
        emit(report, on_result, Result(entry.key, "-", "backend", "-", "-", "output", SKIP,
                                       message=f"{entry.kind} without a computation to compare"))
        return
    if kind == "module" and "preserve" not in entry.rewrites:
        emit(report, on_result, Result(entry.key, "-", "bitwise", "shim", "-", "output", ERROR,
                                       message="registry entry has no 'preserve' rewrite"))
        return
    if not entry.counted and not any(r.safe for r in entry.rewrites.values()):
        reason = entry.rewrites["preserve"].reason if "preserve" in entry.rewrites else "no rewrite in the registry"
        emit(report, on_result, Result(entry.key, "-", "bitwise", "shim", "-", "output", SKIP,
                                       message=f"unsafe rewrite: the codemod leaves this name to the user ({reason})"))
        return
    subject = SUBJECTS.get(entry.key, Subject())
    if subject.whole_segments:
        whole = matrix.whole_segment_sets or tuple(
            s for s in matrix.segment_sets if all(shape.seq % max(s[0]) == 0 for shape in matrix.shapes))
        if not whole:
            emit(report, on_result, Result(entry.key, "-", "bitwise", "shim", "-", "output", ERROR,
                                           message="the old class needs the sequence to be a multiple of its largest "
                                                   "segment; the matrix has no such segment set"))
            return
        matrix = dataclasses.replace(matrix, segment_sets=whole)
    configs = _configs()
    params = [p.name for p in entry.params if p.kind not in ("var_positional", "var_keyword")]
    required = [p.name for p in entry.params if p.kind not in ("var_positional", "var_keyword")
                and repr(p.default) == "REQUIRED"]
    if kind == "module":
        forward = old.forward
        supports_causal = takes_causal(forward)
    elif kind == "function":
        forward = old
        supports_causal = takes_causal(old)
    else:  # accumulator
        forward, supports_causal = None, False
    for variant in variants(params if kind != "function" else [], supports_causal, matrix):
        seed = _seed(entry.key, variant.label)
        try:
            if kind == "module":
                cases = _module_case(entry, old, variant, seed, device, matrix, configs, params, required,
                                     grads, report, on_result, subject)
            elif kind == "function":
                cases = _function_case(entry, old, variant, seed, device, grads, report, on_result)
            else:
                cases = _accumulator_case(entry, old, variant, seed, device, params, report, on_result)
            cases = list(cases)  # builds the instances and runs check 1 here, inside the try
        except Exception as exc:
            emit(report, on_result, Result(entry.key, variant.label, "bitwise", "shim", "float32", "output",
                                           ERROR, message=_exc(exc)))
            continue
        yield from cases


def _module_case(entry, old_cls, variant: Variant, seed: int, device, matrix, configs, params, required,
                 grads, report, on_result, subject: Subject):
    kwargs = constructor_kwargs(params, required, variant, matrix, configs, device)
    shape = variant.shape
    roles = tensor_roles(old_cls.forward)
    inputs = make_inputs(roles, "blhd", shape, seed, torch.float32, device, head_inputs=subject.head_inputs,
                         token_inputs=subject.token_inputs)
    torch.manual_seed(seed)
    with _quiet():
        shim = old_cls(**kwargs).eval()
    _place(shim, device)

    def old_call(module):
        def fn(leaves):
            torch.manual_seed(seed + 1)  # lazily created parameters: same draws on both sides
            return call(module, leaves, variant.causal, shape)
        return fn

    left_to_user: dict[str, str] = {}  # semantics -> why the codemod leaves this call to the user

    def rewrite(semantics):
        """The instance the codemod's rewrite builds, or None where the codemod leaves the
        call to the user (``safe=False``, or an argument of this call it cannot map)."""
        recipe_ = entry.rewrites.get(semantics)
        if recipe_ is None or not recipe_.safe:
            left_to_user[semantics] = recipe_.reason if recipe_ is not None else f"no {semantics} rewrite"
            return None
        torch.manual_seed(seed)
        try:
            with _quiet():
                canon, source = recipe.build(entry, kwargs, semantics)
        except recipe.RecipeError as why:  # an argument of this call has no canonical equivalent
            left_to_user[semantics] = str(why)
            return None
        canon.eval()
        # a rewrite without device=/dtype= (the old class had none) builds on the CPU: move it
        # as the user's model would be moved, then give it the shim's weights
        _place(canon, device)
        rules = entry.checkpoint if entry.checkpoint is not None and entry.checkpoint.loads else None
        transfer_weights(shim, canon, rules)
        return canon, source

    # check 1: shim vs the preserve rewrite, float32, bit for bit
    preserve = rewrite("preserve")
    if preserve is None:
        emit(report, on_result, Result(entry.key, variant.label, "bitwise", "shim", "float32", "output", SKIP,
                                       message=f"the codemod does not rewrite this call: {left_to_user['preserve']}"))
    else:
        def run_shim():
            return _run(old_call(shim), inputs, [], seed + 2, grads)

        with _quiet():
            a, b, warn_only, note = _paired_runs(run_shim, lambda: _run(old_call(preserve[0]), inputs, [],
                                                                        seed + 2, grads), device)

        def rerun():
            with _quiet(), _deterministic(device, warn_only=warn_only):
                return run_shim()
        _bitwise(entry.key, variant.label, a, b, report, on_result, preserve[1],
                 rerun=rerun if device.type == "cuda" else None, note=note)

    args, fkwargs = forward_call(old_cls.forward, {r: t.detach().cpu() for r, t in inputs.items()}, variant.causal)
    job = {"path": entry.paths[0], "paths": list(entry.paths), "kind": "module", "seed": seed,
           "ctor_kwargs": config_to_plain(kwargs),
           "state_dict": {k: v.detach().cpu() for k, v in shim.state_dict().items()},
           "args": args, "kwargs": fkwargs, "grad_seed": seed + 2, "roles": roles, "device": str(device)}

    def evaluator(base, canonical=True):
        """``canonical`` False: an instance of the shim that no safe rewrite reproduces; where it
        holds no ringlib module either, nothing canonical defines its computation."""
        def evaluate(dtype, backend):
            module = copy.deepcopy(base).to(device=device, dtype=dtype)
            casted = {r: t.to(dtype) if t.is_floating_point() else t for r, t in inputs.items()}
            if backend == "ring":
                return _ring_evaluate(module, casted, dtype, variant, seed, grads)
            if not set_backend(module, backend):
                with torch.no_grad(), _quiet():  # lazily built modules: one forward materialises them
                    old_call(module)(casted)
                if not set_backend(module, backend):
                    if not canonical:
                        raise BackendUnsupported("no canonical pattern defines this computation (unsafe "
                                                 "rewrite, no ringlib module inside the shim's instance)")
                    raise BackendUnsupported("the instance has no ringlib backend to select")
            try:
                with _quiet():
                    return _run(old_call(module), casted, _module_params(module), seed + 2, grads)
            except ValueError as exc:
                if "backend" in str(exc) and backend != "reference":
                    raise BackendUnsupported(str(exc)) from exc
                raise
        return evaluate

    # check 2 on what users run (the shim's instance), and on the intended rewrite where the
    # codemod would produce a different computation with --semantics intended
    yield "preserve", Case(entry.key, variant.label, variant, seed, evaluator(shim, preserve is not None), job,
                           entry.divergences)
    intended = rewrite("intended")
    if intended is not None and (preserve is None or intended[1] != preserve[1]):
        yield "intended", Case(entry.key, variant.label, variant, seed, evaluator(intended[0]),
                               same_as=f"{intended[1]} | {variant.label}")


# definitions of the old functions' intended semantics (registry profiles), on (B, H, L, D)
def _exact(q, k, v, causal, backend):
    import ringlib

    out = ringlib.attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), ringlib.Dense(),
                            causal=causal, backend=backend)
    return out.transpose(1, 2)


PROFILE_DEFINITIONS = {"EXACT": _exact}


def _definition(entry):
    for profile, fn in PROFILE_DEFINITIONS.items():
        if entry.profile.split("(")[0].strip() == profile:
            return fn
    return None


def _function_case(entry, fn, variant: Variant, seed, device, grads, report, on_result):
    """Old functions have no rewrite (the codemod reports them); the shim's function is
    checked against the definition of its registry profile."""
    shape = variant.shape
    roles = tensor_roles(fn)
    inputs = make_inputs(roles, "bhld", shape, seed, torch.float32, device)
    definition = _definition(entry)
    emit(report, on_result, Result(entry.key, variant.label, "bitwise", "shim", "float32", "output", SKIP,
                                   message="no codemod rewrite for this name (reported for manual migration)"))
    args, _ = forward_call(fn, {r: t.detach().cpu() for r, t in inputs.items()}, variant.causal, shape,
                           positional_all=True)
    job = {"path": entry.paths[0], "paths": list(entry.paths), "kind": "function", "seed": seed, "args": args,
           "kwargs": {}, "grad_seed": seed + 2, "roles": roles, "device": str(device)}

    def evaluate(dtype, backend):
        casted = {r: t.to(dtype) for r, t in inputs.items()}
        if backend == "reference":
            if definition is None:
                raise ValueError(f"no definition for profile {entry.profile!r}")
            return _run(lambda lv: definition(lv["q"], lv["k"], lv["v"], variant.causal, "reference"),
                        casted, [], seed + 2, grads)
        if backend != "sdpa":
            raise BackendUnsupported("the old functions pick their backend themselves")

        def shim_fn(leaves):
            with _quiet():
                return call(fn, leaves, variant.causal, shape)
        return _run(shim_fn, casted, [], seed + 2, grads)
    yield "preserve", Case(entry.key, variant.label, variant, seed, evaluate, job, entry.divergences)


def _accumulator_case(entry, cls, variant: Variant, seed, device, params, report, on_result):
    """An accumulator of partial results is checked by merging two key chunks' attention and
    comparing with one softmax over all keys."""
    import inspect

    shape = variant.shape
    qkv = make_inputs(["q", "k", "v"], "bhld", shape, seed, torch.float64, device)
    scale = shape.head_dim ** -0.5
    takes_dtype = "dtype" in inspect.signature(cls).parameters

    def kwargs_for(dtype):
        return {"dtype": dtype} if takes_dtype else {}

    def chunks(dtype):
        return ChunkedAttention.build(*(qkv[r].to(dtype) for r in "qkv"), scale, False).chunks

    emit(report, on_result, Result(entry.key, variant.label, "bitwise", "shim", "float32", "output", SKIP,
                                   message="no codemod rewrite for this name (reported for manual migration)"))
    job = {"path": entry.paths[0], "paths": list(entry.paths), "kind": "accumulator", "seed": seed,
           "ctor_kwargs": config_to_plain(kwargs_for(torch.float32)),
           "updates": [[o.cpu(), l.cpu()] for o, l in chunks(torch.float32)], "roles": [], "device": str(device)}

    def evaluate(dtype, backend):
        if backend == "reference":  # the definition: one softmax over all keys
            q, k, v = (qkv[r].to(dtype) for r in "qkv")
            probs = torch.softmax((q @ k.transpose(-1, -2)) * scale, dim=-1)
            return Evaluation({"output": probs @ v})
        if backend != "sdpa":
            raise BackendUnsupported("accumulators have no backend choice")
        with _quiet():
            return Evaluation({"output": run_accumulator(cls(**kwargs_for(dtype)), chunks(dtype))})
    yield "preserve", Case(entry.key, variant.label, variant, seed, evaluate, job, entry.divergences)


# ------------------------------------------------------------------------------------------
# canonical patterns (also what runs before the registry is populated)


def canonical_patterns(matrix: Matrix) -> list[tuple[str, Any, dict]]:
    """``(name, pattern, attention kwargs)`` for the canonical patterns of ringlib."""
    import ringlib
    from ringlib import compat

    segs, rates = matrix.segment_sets[0]
    segs2, rates2 = matrix.segment_sets[-1]
    out = [
        ("ringlib.Dense", ringlib.Dense(), {}),
        ("ringlib.Dilated", ringlib.Dilated(segs2, rates2), {}),
        ("ringlib.Dilated[head_groups]", ringlib.Dilated(segs, rates, mixing="head_groups"), {}),
        ("ringlib.compat.Regions", compat.Regions(segs2, rates2), {}),
        ("ringlib.compat.FirstSegment", compat.FirstSegment(segs2, rates2), {}),
        ("ringlib.compat.StridedKeys", compat.StridedKeys(segs2, rates2), {"scale": 0.1}),
    ]
    try:
        block_sparse = ringlib.BlockSparse
    except (AttributeError, ImportError):
        block_sparse = None
    if block_sparse is not None:
        for layout in matrix.block_layouts:
            for normalization in ("softmax", "per_block_sum"):
                try:
                    pattern = block_sparse(layout, block_size=matrix.block_size, normalization=normalization)
                except Exception:  # noqa: BLE001 - the constructor's spelling is still settling
                    continue
                out.append((f"ringlib.BlockSparse[{layout},{normalization}]", pattern, {}))
    return out


def _pattern_cases(name, pattern, extra, device, matrix: Matrix, grads: bool) -> Iterable[Case]:
    import ringlib

    orderings = matrix.orderings if getattr(pattern, "takes_ordering", type(pattern).__name__ != "BlockSparse") else (None,)
    for shape in matrix.shapes:
        for causal in matrix.causal:
            for ordering in orderings:
                variant = Variant(shape, causal)
                label = f"{variant.label} ordering={ordering}"
                seed = _seed(name, label)
                inputs = make_inputs(["q", "k", "v"], "blhd", shape, seed, torch.float64, device)

                def evaluate(dtype, backend, causal=causal, ordering=ordering, inputs=inputs, seed=seed,
                             variant=variant):
                    casted = {r: t.to(dtype) for r, t in inputs.items()}
                    if backend == "ring":
                        module = ringlib.DilatedAttention(pattern, ordering=ordering, **extra)
                        return _ring_evaluate(module, casted, dtype, variant, seed, grads)

                    def fn(leaves):
                        try:
                            return ringlib.attention(leaves["q"], leaves["k"], leaves["v"], pattern, causal=causal,
                                                     ordering=ordering, backend=backend, **extra)
                        except ValueError as exc:
                            if "backend" in str(exc) and backend != "reference":
                                raise BackendUnsupported(str(exc)) from exc
                            raise
                    return _run(fn, casted, [], seed + 2, grads)
                yield Case(name, label, variant, seed, evaluate)


# ------------------------------------------------------------------------------------------
# ring (under torchrun)


def _ring_evaluate(module: nn.Module, inputs: dict[str, Tensor], dtype, variant: Variant, seed: int,
                   grads: bool) -> Evaluation:
    """Run ``module`` sharded over the process group and gather the full result: each rank
    passes its contiguous shard of the sequence (dim 1) and gets its shard back."""
    import torch.distributed as dist

    group = _ring_group()
    if group is None:
        raise BackendUnsupported("ring needs torchrun with more than one rank")
    found = False
    for m in module.modules():
        if hasattr(m, "group") and hasattr(m, "backend"):
            m.group, m.backend, found = group, "auto", True
    if not found:
        raise BackendUnsupported("the canonical object takes no process group")
    world, rank = dist.get_world_size(group), dist.get_rank(group)
    n = variant.shape.seq
    if n % world:
        raise BackendUnsupported(f"sequence {n} not divisible by world size {world}")
    lo, hi = rank * n // world, (rank + 1) * n // world
    leaves = {r: t.detach().clone().to(dtype).requires_grad_(grads) for r, t in inputs.items()}
    shards = {r: t[:, lo:hi] for r, t in leaves.items()}
    with _quiet():
        args, kwargs = forward_call(module.forward, shards, variant.causal)
        out_shard = module(*args, **kwargs)
    out_shard = out_shard[0] if isinstance(out_shard, tuple) else out_shard
    gathered = [torch.empty_like(out_shard) for _ in range(world)]
    dist.all_gather(gathered, out_shard.detach().contiguous(), group=group)
    out = torch.cat(gathered, dim=1)
    ev = Evaluation({"output": out})
    if grads:
        gen = torch.Generator().manual_seed(seed + 2)
        grad_out = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out.device, out.dtype)
        params = _module_params(module)
        wrt = [*leaves.values(), *(p for _, p in params)]
        got = torch.autograd.grad(out_shard, wrt, grad_out[:, lo:hi], allow_unused=True)
        got = [torch.zeros_like(w) if g is None else g.contiguous() for w, g in zip(wrt, got)]
        for g in got:  # each rank holds its contribution; the full gradient is the sum
            dist.all_reduce(g, group=group)
        for role, g in zip(leaves, got):
            ev.quantities[f"grad {role}"] = g
        if params:
            ev.quantities["grad params"] = torch.cat([g.flatten() for g in got[len(leaves):]])
    return ev


# ------------------------------------------------------------------------------------------


def select(entries, names: Sequence[str] | None):
    """Registry entries named by key, name or any old path. By default: the counted names and
    every other name the codemod has a rewrite for (the attention classes and models added
    for 0.2); those whose every rewrite is unsafe are reported as such."""
    if not names:
        return [e for e in entries if e.counted or e.rewrites]
    wanted = set(names)
    return [e for e in entries if wanted & {e.key, e.name, *e.paths}]


def check(names: Sequence[str] | None = None, *, device: str | torch.device = "cpu",
          dtypes: Sequence[str | torch.dtype] = ("float32",), backends: Sequence[str] | None = None,
          against: str | os.PathLike | None = None, matrix: Matrix | None = None, canonical: bool = True,
          grads: bool = True, on_result: Callable[[Result], None] | None = None) -> Report:
    """Run the parity checks and return a ``Report`` (``report.ok`` is the verdict).

    ``names``: registry keys/names/old paths and/or canonical pattern names
    ("ringlib.Dilated"); default: every counted legacy name and every canonical pattern.
    ``against``: a directory holding the original ``dilated_attention_pytorch`` (or the
    package directory itself, or an importable module name it is vendored under).
    Usable from a user's pytest suite::

        def test_parity():
            report = ringlib_parity.check(names=["RingDilatedAttentionCorrect"], dtypes=["float32"])
            assert report.ok, report.failures
    """
    from ringlib_legacy.registry import LEGACY_NAMES

    device = torch.device(device)
    if device.type == "cuda":
        # strict deterministic mode (the bitwise check) needs it before cuBLAS's first gemm in
        # the process; where that already happened the check falls back to warn_only
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    dtypes = [DTYPES[d] if isinstance(d, str) else d for d in dtypes]
    matrix = matrix or default_matrix(device)
    backends = list(backends) if backends is not None else available_backends(device)
    report = Report(meta={
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__, "dtypes": [str(d).replace("torch.", "") for d in dtypes],
        "backends": ["reference (float64 ground truth and plain low precision)", *backends],
        "rule": f"err(tested) <= {tolerance.K} * err(plain) + floor[dtype] * max(1, |ref|max)",
        "bitwise": BITWISE_RULE[device.type == "cuda"],
        "date": time.strftime("%Y-%m-%d"),
    })
    started = time.perf_counter()
    entries = select(LEGACY_NAMES, names)
    if canonical is not False:
        for name, pattern, extra in canonical_patterns(matrix):
            family = name.split("[")[0]
            if names and not {name, family, "ringlib"} & set(names):
                continue
            for case in _pattern_cases(name, pattern, extra, device, matrix, grads):
                _backend_compare(case, dtypes, backends, device, report, "preserve", on_result)
    pattern_names = {n for n, _, _ in canonical_patterns(matrix)} | {n.split("[")[0] for n, _, _ in canonical_patterns(matrix)}
    for n in names or ():
        if n != "ringlib" and n not in pattern_names and not select(LEGACY_NAMES, [n]):
            emit(report, on_result, Result(n, "-", "select", "-", "-", "-", ERROR,
                                           message="not a registry name, key, old path or canonical pattern"))
    jobs = []
    seen: dict[str, str] = {}
    for entry in entries:
        for semantics, case in _legacy_cases(entry, device, matrix, grads, report, on_result):
            if case.same_as is not None:  # e.g. five REGIONS names share one intended rewrite
                if case.same_as in seen:
                    emit(report, on_result, Result(case.name, f"{case.label} [intended]", "backend", "-", "-",
                                                   "output", SKIP, message=f"same rewrite as {seen[case.same_as]}"))
                    continue
                seen[case.same_as] = case.name
            ref = _backend_compare(case, dtypes, backends, device, report, semantics, on_result)
            if against is not None and case.job is not None and ref is not None:
                jobs.append((case, ref))
    if against is not None:
        from ringlib_parity import against as against_mod

        against_mod.run(jobs, against, device, report, on_result)
    report.meta["rewrites rendered by"] = recipe.RENDERER
    report.meta["seconds"] = round(time.perf_counter() - started, 1)
    return report
