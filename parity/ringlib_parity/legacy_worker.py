"""Run the original ``dilated_attention_pytorch`` on recorded calls, in its own process.

The original and the shim share the import name ``dilated_attention_pytorch``, so the
original can only be imported in a process that never saw the shim. This file is run as a
script (``python legacy_worker.py AGAINST JOBS RESULTS``) and imports neither ringlib nor
the shim: it puts the original's directory first on ``sys.path``, installs import-only
stand-ins for ``triton``, ``xformers`` and ``torchscale`` where they are not installed
(the original imports them at package import; the measured classes never call them),
replays each recorded call on the shim's weights and inputs and saves outputs and
gradients. Any exception is recorded per job, never fatal.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import io
import os
import sys
import traceback
import types
from contextlib import redirect_stderr, redirect_stdout

STUBBED_ROOTS = ("triton", "xformers", "torchscale")


class _Stub:
    """Stands in for any attribute of a missing optional module: usable as a decorator
    (``@triton.jit``, ``@triton.autotune(...)``), a type annotation (``tl.constexpr``), a
    base class or a constant. Calling it for real fails only when the stubbed code runs."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Stub(f"{self._name}.{attr}")

    def __call__(self, *args, **kwargs):
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return args[0]  # bare decorator
        return _Stub(f"{self._name}(...)")

    def __getitem__(self, item):
        return _Stub(f"{self._name}[...]")

    def __mro_entries__(self, bases):
        return (object,)

    def __repr__(self) -> str:
        return f"<import-only stand-in {self._name}>"

    def __bool__(self) -> bool:
        return False


class _StubModule(types.ModuleType):
    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Stub(f"{self.__name__}.{attr}")


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Creates stand-in modules for ``triton.*``, ``xformers.*``, ``torchscale.*``."""

    def __init__(self, roots):
        self.roots = set(roots)
        self.used: set[str] = set()

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.roots:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _StubModule(spec.name)
        module.__path__ = []
        self.used.add(spec.name.split(".")[0])
        return module

    def exec_module(self, module):
        pass


def _install_stubs() -> _StubFinder:
    missing = [root for root in STUBBED_ROOTS if importlib.util.find_spec(root) is None]
    finder = _StubFinder(missing)
    sys.meta_path.insert(0, finder)
    return finder


def _resolve(path: str, root: str | None):
    parts = path.split(".")
    if root:
        parts[0:1] = root.split(".")
    last = None
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as exc:
            last = exc
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise last or ModuleNotFoundError(path)


def _plain_to_value(value, root: str | None):
    import torch

    if isinstance(value, dict) and "__config__" in value:
        cls = _find_config(value["__config__"], root)
        fields = dict(value["fields"])
        field_types = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
        for name, v in list(fields.items()):
            if isinstance(v, str) and name in field_types:  # enums travel as their values
                default = field_types[name].default
                if hasattr(type(default), "__members__"):
                    fields[name] = type(default)(v)
        return cls(**fields)
    if isinstance(value, dict) and "__device__" in value:
        return torch.device(value["__device__"])
    if isinstance(value, dict) and "__dtype__" in value:
        return getattr(torch, value["__dtype__"])
    if isinstance(value, list):
        return [_plain_to_value(v, root) for v in value]
    if isinstance(value, dict):
        return {k: _plain_to_value(v, root) for k, v in value.items()}
    return value


def _find_config(name: str, root: str | None):
    top = root or "dilated_attention_pytorch"
    for module in (top, f"{top}.sparse", f"{top}.sparse.block_sparse_ring_dilated_attention",
                   f"{top}.sparse.block_sparse_adaptive", f"{top}.sparse.distributed_sparse_config"):
        try:
            obj = getattr(importlib.import_module(module), name, None)
        except Exception:  # noqa: BLE001
            obj = None
        if obj is not None:
            return obj
    raise ImportError(f"the original package has no {name}")


def _first_tensor(out):
    import torch

    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise TypeError(f"the original returned {type(out).__name__}, not a tensor")


def _run_job(job: dict, root: str | None) -> dict:
    import torch

    result: dict = {"id": job["id"], "stage": "import"}
    try:
        obj = None
        errors = []
        for path in job["paths"]:
            try:
                obj = _resolve(path, root)
                result["path"] = path
                break
            except Exception as exc:  # noqa: BLE001 - try every old path
                errors.append(f"{path}: {type(exc).__name__}: {exc}")
        if obj is None:
            raise ImportError("; ".join(errors))
        torch.manual_seed(job["seed"])
        device = torch.device(job.get("device", "cpu"))
        args = [a.to(device).requires_grad_(a.is_floating_point()) if isinstance(a, torch.Tensor) else a
                for a in job.get("args", [])]
        leaves = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
        module = None
        if job["kind"] == "module":
            result["stage"] = "construct"
            module = obj(**_plain_to_value(job["ctor_kwargs"], root))
            module.eval()
            result["stage"] = "load_state_dict"
            try:
                module.load_state_dict(job["state_dict"])
            except RuntimeError:
                if any(True for _ in module.parameters()):
                    raise
                # lazily built parameters: one forward creates them, then the weights load
                with torch.no_grad():
                    module(*[a.detach() if isinstance(a, torch.Tensor) else a for a in args], **job["kwargs"])
                module.load_state_dict(job["state_dict"])
            result["stage"] = "forward"
            out = _first_tensor(module(*args, **job["kwargs"]))
        elif job["kind"] == "function":
            result["stage"] = "forward"
            out = _first_tensor(obj.apply(*args) if hasattr(obj, "apply") else obj(*args, **job["kwargs"]))
        else:  # accumulator
            result["stage"] = "construct"
            acc = obj(**_plain_to_value(job["ctor_kwargs"], root))
            result["stage"] = "forward"
            for update in job["updates"]:
                acc.update(*(t.to(device) for t in update))
            out = _first_tensor(acc.get())
        result["output"] = out.detach().float().clone()
        result["stage"] = "done"
        if leaves and out.requires_grad and job.get("grad_seed") is not None:
            try:
                gen = torch.Generator().manual_seed(job["grad_seed"])
                grad_out = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out.dtype)
                got = torch.autograd.grad(out, leaves, grad_out, allow_unused=True)
                result["grads"] = {role: (torch.zeros_like(leaf) if g is None else g.detach().clone())
                                   for role, leaf, g in zip(job["roles"], leaves, got)}
            except Exception as exc:  # noqa: BLE001 - old backward errors are a finding
                result["grad_error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    except Exception as exc:  # noqa: BLE001 - old constructor/forward errors are a finding
        result["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        result["traceback"] = traceback.format_exc()[-2000:]
    return result


def _check_origin(against: str, root: str | None) -> str | None:
    """An error text unless the package imported is the original under ``against`` (and not,
    say, the shim found through another entry of ``sys.path``)."""
    name = root or "dilated_attention_pytorch"
    try:
        package = importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    where = os.path.abspath(getattr(package, "__file__", None) or "")
    if root is None and not where.startswith(against + os.sep):
        return f"ModuleNotFoundError: no {name} under {against} (the import found {where})"
    return None


def main(argv: list[str]) -> int:
    against, jobs_path, out_path = argv[1:4]
    root = None
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    if os.path.isdir(against):
        against = os.path.abspath(against)
        if os.path.basename(against) == "dilated_attention_pytorch":
            against = os.path.dirname(against)
        sys.path.insert(0, against)
    else:
        root = against  # an importable module the original is vendored under
    import torch  # before the stand-ins, so torch's own optional-import probes see the truth

    finder = _install_stubs()

    jobs = torch.load(jobs_path, weights_only=False)
    captured = io.StringIO()
    results = []
    with redirect_stdout(captured), redirect_stderr(captured):
        problem = _check_origin(against, root)
        for job in jobs:
            results.append({"id": job["id"], "stage": "import", "error": problem} if problem else _run_job(job, root))
    package = sys.modules.get(root or "dilated_attention_pytorch")
    meta = {"stand_ins": sorted(finder.used), "stubbed_missing": sorted(finder.roots),
            "original_file": getattr(package, "__file__", None), "output": captured.getvalue()[-4000:]}
    torch.save({"results": results, "meta": meta}, out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
