"""``--against``: the original implementation, measured on the shim's weights and inputs.

The main process records every case's old call (constructor arguments, the shim's
state_dict, forward inputs, output-gradient seed) into one file; ``legacy_worker.py`` runs
them in a subprocess with the original first on ``sys.path``; the results come back and are
classified here against the same float64 reference the backends are held to:

* EQUIVALENT: the original is within the tolerance rule of the reference
  (``err <= K * err(plain float32) + floor``): it computed what the shim computes;
* DIVERGES: it is not, and the registry lists a divergence that applies to this case
  (its reason and the measured error are reported);
* LEGACY-FAILED: the original raised (import, constructor, forward or backward);
* UNEXPLAINED (a failure): it is not within tolerance and the registry gives no reason.

Which registry divergences apply (``applies == "shim"`` only): one that mentions causal
masking only to causal cases, one about backward only to gradients; distributed ones,
dtype-mismatch and stale-cache ones never (one process, one dtype, configs never mutated).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from ringlib_parity import tolerance
from ringlib_parity.report import DIVERGES, EQUIVALENT, ERROR, LEGACY_FAILED, UNEXPLAINED, Report, Result, emit

WORKER = Path(__file__).with_name("legacy_worker.py")
TIMEOUT_S = float(os.environ.get("RINGLIB_PARITY_AGAINST_TIMEOUT", "900"))


def relevant_divergences(divergences, causal: bool, quantity: str) -> list:
    out = []
    for d in divergences:
        if getattr(d, "applies", "shim") != "shim":
            continue  # about --semantics intended, not about what the shim computes
        text = f"{d.what} {getattr(d, 'measured', '')}".lower()
        if "distributed" in text or "multi-rank" in text or "world size" in text:
            continue  # the harness runs one process
        if "dtype" in text or "stale" in text:
            continue  # parameters and inputs share one dtype; configs are never mutated
        if "causal" in text and not causal:
            continue
        if "backward" in text and quantity == "output":
            continue
        out.append(d)
    return out


def run_worker(jobs: list[dict], against: str | os.PathLike, device: torch.device) -> dict:
    """Run the recorded jobs on the original; returns ``{"results": [...], "meta": {...}}``."""
    with tempfile.TemporaryDirectory(prefix="ringlib-parity-") as tmp:
        jobs_path, out_path = os.path.join(tmp, "jobs.pt"), os.path.join(tmp, "results.pt")
        torch.save(jobs, jobs_path)
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)  # nothing may shadow the original
        target = os.path.abspath(against) if os.path.exists(against) else os.fspath(against)
        proc = subprocess.run([sys.executable, str(WORKER), target, jobs_path, out_path],
                              capture_output=True, text=True, timeout=TIMEOUT_S, env=env, cwd=tmp)
        if proc.returncode != 0 or not os.path.exists(out_path):
            raise RuntimeError(f"the --against worker failed (exit {proc.returncode}): "
                               f"{(proc.stderr or proc.stdout)[-1500:]}")
        return torch.load(out_path, weights_only=False)


def run(cases_and_refs, against, device: torch.device, report: Report, on_result=None) -> None:
    """Record, run and classify the --against jobs (``cases_and_refs``: (Case, reference))."""
    jobs = []
    for i, (case, _) in enumerate(cases_and_refs):
        jobs.append({**case.job, "id": i})
    if not jobs:
        return
    try:
        answer = run_worker(jobs, against, device)
    except Exception as exc:  # noqa: BLE001
        emit(report, on_result, Result("--against", "-", "against", "legacy", "float32", "output", ERROR,
                                       message=str(exc)[:1500]))
        return
    meta = answer["meta"]
    report.meta["against"] = str(against)
    report.meta["original"] = meta.get("original_file")
    report.meta["import-only stand-ins"] = ", ".join(meta.get("stand_ins") or []) or "none needed"
    for (case, ref), res in zip(cases_and_refs, answer["results"]):
        plain = case.evaluate(torch.float32, "reference")
        causal = case.variant.causal
        if "error" in res:
            emit(report, on_result, Result(case.name, case.label, "against", "legacy", "float32", "output",
                                           LEGACY_FAILED, message=f"{res['stage']}: {res['error']}"))
            continue
        quantities = {"output": res["output"]}
        for role, g in (res.get("grads") or {}).items():
            quantities[f"grad {role}"] = g
        for quantity, got in quantities.items():
            if quantity not in ref.quantities:
                continue
            reference = ref.quantities[quantity].double().cpu()
            ok, err, plain_err, limit = tolerance.judge(got.double().reshape(reference.shape)
                                                        if got.numel() == reference.numel() else got,
                                                        plain.quantities[quantity], reference, torch.float32)
            if ok:
                status, message = EQUIVALENT, ""
            else:
                reasons = relevant_divergences(case.divergences, causal, quantity)
                if reasons:
                    status = DIVERGES
                    message = "; ".join(f"{d.what} (registry: {d.measured})" for d in reasons)
                else:
                    status, message = UNEXPLAINED, "the original differs and the registry lists no applicable divergence"
            emit(report, on_result, Result(case.name, case.label, "against", "legacy", "float32", quantity,
                                           status, err, limit, plain_err, message))
        if res.get("grad_error") and any(q.startswith("grad") for q in ref.quantities):
            emit(report, on_result, Result(case.name, case.label, "against", "legacy", "float32", "grads",
                                           LEGACY_FAILED, message=f"backward: {res['grad_error']}"))
