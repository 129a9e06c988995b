"""Pair the calls of a recorded run with those of the current run and measure each difference.

Pairing rule. Migration replaces a class by another (``RingDilatedAttentionCorrect`` becomes
``ringlib.MultiheadDilatedAttention``) but keeps the program's structure, so within one scope
(a test, a script) the k-th recorded call is paired with the k-th current call. The pair must
agree on *where* the call happened (``path``: the module's qualified name in the model, and
``call``: its repetition count) and on *what* was called: the same target, or a canonical
callable that the registry lists as a rewrite of the recorded old name. A pair that does not
agree is a ``mismatch`` (the program's structure changed) and later calls are still compared
by position; surplus calls on either side are ``missing`` / ``extra``.

Verdicts of a paired call: ``bitwise`` (every output and gradient hashes the same),
``expected`` (differs, and the migration used ``--semantics intended`` for an old name whose
registry entry lists the intended numerical change), ``differs`` (a failure, with the largest
absolute and relative difference, measured on the full tensors when both were recorded and
on the deterministic sample otherwise).

A difference propagates: every call after a changed one sees changed inputs. Inputs are
recorded too, so a call whose inputs already differ says so (the change happened before it,
e.g. in the user's code between two attention calls); it counts as ``expected`` only when an
earlier call of the same scope was ``expected`` (the intended change flowing downstream).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ringlib_parity.usercode import names, store
from ringlib_parity.usercode.digest import Digest
from ringlib_parity.usercode.recorder import Call

BITWISE, EXPECTED, DIFFERS, MISMATCH, MISSING, EXTRA = "bitwise", "expected", "differs", "mismatch", "missing", "extra"
FAILING = frozenset({DIFFERS, MISMATCH, MISSING, EXTRA})
SEMANTICS = ("preserve", "intended")


@dataclass
class CallVerdict:
    scope: str
    index: int
    where: str  # "TinyLM.block1.dilated #0"
    recorded: str  # what the record called (old name or canonical target)
    now: str  # what the current run called
    status: str
    max_abs: float | None = None
    max_rel: float | None = None
    basis: str = ""  # "full" or "sample": what the differences were measured on
    quantity: str = ""  # the worst tensor: "output 0", "grad of input 1"
    note: str = ""

    @property
    def failed(self) -> bool:
        return self.status in FAILING

    def describe(self) -> str:
        text = f"call {self.index} {self.where}: {self.recorded} -> {self.now}: {self.status}"
        if self.max_abs is not None:
            text += f" ({self.quantity}: max abs {self.max_abs:.3e}, max rel {self.max_rel:.3e} on the {self.basis})"
        return text + (f"; {self.note}" if self.note else "")


@dataclass
class ScopeVerdict:
    scope: str
    calls: list[CallVerdict] = field(default_factory=list)
    recorded: bool = True  # False: the scope is not in the record (a test added since)

    @property
    def ok(self) -> bool:
        return not any(c.failed for c in self.calls)

    @property
    def failures(self) -> list[CallVerdict]:
        return [c for c in self.calls if c.failed]

    def to_json(self) -> dict:
        return {"scope": self.scope, "recorded": self.recorded, "calls": [asdict(c) for c in self.calls]}

    @classmethod
    def from_json(cls, data: dict) -> "ScopeVerdict":
        return cls(data["scope"], [CallVerdict(**c) for c in data["calls"]], data["recorded"])


def configured_semantics(start: Path) -> str:
    """The ``semantics`` that ``ringlib migrate`` was configured with in the project's
    ``[tool.ringlib.migrate]`` table (``preserve`` when there is none)."""
    from ringlib_codemods import config

    pyproject = config.find_pyproject([Path(start)])
    return config.load(pyproject).get("semantics", "preserve") if pyproject else "preserve"


def _label(call: Call) -> str:
    return names.display_name(call.legacy) if call.legacy else call.target


def _same_place(old: Call, new: Call) -> bool:
    if (old.path, old.call) != (new.path, new.call):
        return False
    if old.target == new.target or (old.legacy is not None and old.legacy == new.legacy):
        return True
    return old.legacy is not None and new.target in names.replacements(old.legacy)


def _measure(old: Digest, new: Digest, old_root: Path, new_root: Path) -> tuple[float, float, str]:
    """(max abs, max rel, basis) of ``new - old`` on the full tensors or the sample."""
    import torch

    full_old, full_new = store.load_full(old_root, old.full), store.load_full(new_root, new.full)
    if full_old is not None and full_new is not None:
        a, b, basis = full_new.to(torch.float64), full_old.to(torch.float64), "full tensor"
    else:
        a, b, basis = (torch.tensor(new.sample, dtype=torch.float64), torch.tensor(old.sample, dtype=torch.float64),
                       "sample")
    diff = (a - b).abs()
    diff = torch.where(torch.isnan(a) & torch.isnan(b), torch.zeros_like(diff), diff)
    diff = torch.nan_to_num(diff, nan=math.inf)
    rel = torch.where(b != 0, diff / b.abs(), torch.where(diff > 0, math.inf, 0.0))
    if not diff.numel():
        return 0.0, 0.0, basis
    return float(diff.max()), float(rel.max()), basis


def _tensor_pairs(old: Call, new: Call):
    for j, (a, b) in enumerate(zip(old.outputs, new.outputs)):
        yield f"output {j}", a, b
    if len(old.grads) == len(new.grads):
        for j, (a, b) in enumerate(zip(old.grads, new.grads)):
            if a is not None and b is not None:
                yield f"grad of input {j}", a, b


def _same_inputs(old: Call, new: Call) -> bool:
    return [(d.hash, d.shape, d.dtype) for d in old.inputs] == [(d.hash, d.shape, d.dtype) for d in new.inputs]


def compare_call(scope: str, old: Call, new: Call, *, semantics: str, old_root: Path, new_root: Path,
                 upstream_expected: bool = False) -> CallVerdict:
    """One paired call; ``upstream_expected``: an earlier call of the scope differed as intended."""
    verdict = CallVerdict(scope, new.index, new.where, _label(old), _label(new), BITWISE)
    if not _same_place(old, new):
        verdict.status = MISMATCH
        verdict.note = f"recorded {_label(old)} at {old.where}, now {_label(new)} at {new.where}"
        return verdict
    if len(old.outputs) != len(new.outputs):
        verdict.status, verdict.note = MISMATCH, f"returned {len(old.outputs)} tensors, now {len(new.outputs)}"
        return verdict
    worst, reshaped = None, False
    for quantity, a, b in _tensor_pairs(old, new):
        if a.hash == b.hash and a.shape == b.shape and a.dtype == b.dtype:
            continue
        verdict.status = DIFFERS
        if a.shape != b.shape or a.dtype != b.dtype:
            reshaped, verdict.quantity = True, quantity
            verdict.note = f"{quantity}: {a.dtype}{list(a.shape)} recorded, now {b.dtype}{list(b.shape)}"
            break
        measured = _measure(a, b, old_root, new_root)
        if worst is None or measured[0] > worst[0]:
            worst = (*measured, quantity)
        if measured[0] == 0:
            verdict.note = (f"{quantity} differs outside the sample (max abs {a.max_abs:.6g} recorded, "
                            f"now {b.max_abs:.6g}); record full tensors to measure it")
    if worst is not None and not reshaped:
        verdict.max_abs, verdict.max_rel, verdict.basis, verdict.quantity = worst
    expected = names.expected_differences(old.legacy, semantics) if old.legacy else ()
    if verdict.status == DIFFERS and expected and not reshaped:
        verdict.status, verdict.note = EXPECTED, "intended: " + "; ".join(expected)
    elif verdict.status == DIFFERS and not _same_inputs(old, new):
        if upstream_expected and not reshaped:
            verdict.status, verdict.note = EXPECTED, "its inputs carry an earlier intended difference"
        else:
            verdict.note = ("its inputs differ too: the change happened before this call"
                            + (f"; {verdict.note}" if verdict.note else ""))
    return verdict


def compare_scope(scope: str, recorded: list[Call] | None, current: list[Call], *, semantics: str = "preserve",
                  old_root: Path, new_root: Path) -> ScopeVerdict:
    """Every paired, missing and extra call of one scope."""
    if semantics not in SEMANTICS:
        raise ValueError(f"semantics must be one of {SEMANTICS}, got {semantics!r}")
    if recorded is None:
        return ScopeVerdict(scope, recorded=False)
    result = ScopeVerdict(scope)
    for old, new in zip(recorded, current):
        upstream = any(c.status == EXPECTED for c in result.calls)
        result.calls.append(compare_call(scope, old, new, semantics=semantics, old_root=old_root, new_root=new_root,
                                         upstream_expected=upstream))
    for old in recorded[len(current):]:
        result.calls.append(CallVerdict(scope, old.index, old.where, _label(old), "-", MISSING,
                                        note="recorded, not called in this run"))
    for new in current[len(recorded):]:
        result.calls.append(CallVerdict(scope, new.index, new.where, "-", _label(new), EXTRA,
                                        note="called in this run, not recorded"))
    return result
