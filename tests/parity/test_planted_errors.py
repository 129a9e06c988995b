"""The harness must fail when the tested path is wrong: each planted error below is one a
backend could plausibly make, and each must turn the report red (the unplanted run passes)."""

import dataclasses
import math

import torch

import ringlib_parity as parity
from ringlib.backends import strided
from ringlib.patterns import Dilated, _cached_plan
from ringlib.plan import Branch, Plan


def _failures(report, check="backend"):
    return [r for r in report.failures if r.check == check]


def _patch_output(monkeypatch, change):
    """Route the sdpa backend's output through ``change(out, causal)`` (reference untouched)."""
    original = strided.attention

    def patched(q, k, v, pattern, *, scale, causal, ordering, dropout_p):
        return change(lambda c: original(q, k, v, pattern, scale=scale, causal=c, ordering=ordering,
                                         dropout_p=dropout_p), causal)
    monkeypatch.setattr(strided, "attention", patched)


def test_unplanted_run_passes(small):
    report = parity.check(names=["ringlib.Dense", "RingDilatedAttentionMemoryEfficient"], matrix=small)
    assert report.ok, report.failures[:3]
    assert any(r.check == "backend" and r.backend == "sdpa" and r.status == "PASS" for r in report.results)


def test_relative_perturbation_of_1e_3_fails(monkeypatch, small):
    _patch_output(monkeypatch, lambda run, causal: run(causal) * (1 + 1e-3))
    report = parity.check(names=["ringlib.Dense", "RingDilatedAttentionMemoryEfficient"], matrix=small)
    assert not report.ok
    bad = _failures(report)
    assert {r.name for r in bad} == {"ringlib.Dense", "RingDilatedAttentionMemoryEfficient"}
    assert all(r.backend == "sdpa" for r in bad)
    worst = max(bad, key=lambda r: r.ratio)
    assert worst.error > 50 * worst.bound  # caught by a wide margin, not by luck


def test_transposed_head_order_fails(monkeypatch, small):
    _patch_output(monkeypatch, lambda run, causal: run(causal).flip(2))
    report = parity.check(names=["RingDilatedAttentionFixedSimple"], matrix=small)
    assert not report.ok
    assert {r.quantity for r in _failures(report)} >= {"output"}


def test_dropped_causal_mask_fails(monkeypatch, small):
    _patch_output(monkeypatch, lambda run, causal: run(False))
    report = parity.check(names=["RingDilatedAttentionMemoryEfficient", "ringlib.Dense"], matrix=small)
    bad = _failures(report)
    assert bad and all(" causal=True" in r.case for r in bad)  # exactly the causal cases fail
    assert {r.name for r in bad} == {"RingDilatedAttentionMemoryEfficient", "ringlib.Dense"}


def test_wrong_dilation_offset_fails(monkeypatch, small):
    """The plan (what sdpa executes) takes residue o+1 where the definition says o; the
    reference builds its masks from the definition and is not affected."""
    original = Dilated._plan

    def shifted(self, n, heads):
        plan = original(self, n, heads)
        if self.mixing != "head_groups":
            return plan
        branches = []
        for (w, r), branch in zip(zip(self.segment_lengths, self.dilation_rates), plan.branches):
            parts = []
            for seg, part in zip(branch.segmentations, branch.parts):
                offset = (part.q_start - seg.start + 1) % r
                rows = math.ceil((seg.length - offset) / r)
                parts.append(dataclasses.replace(part, q_start=seg.start + offset, k_start=seg.start + offset,
                                                 q_count=rows, k_count=rows))
            branches.append(Branch(branch.segmentations, tuple(parts)))
        return Plan(tuple(branches), plan.combine)

    _cached_plan.cache_clear()
    monkeypatch.setattr(Dilated, "_plan", shifted)
    try:
        report = parity.check(names=["ringlib.Dilated[head_groups]"], matrix=small)
    finally:
        _cached_plan.cache_clear()
    assert not report.ok
    assert all(r.backend == "sdpa" for r in _failures(report))


def test_nan_never_passes():
    from ringlib_parity import tolerance

    ref = torch.ones(3, dtype=torch.float64)
    bad = torch.tensor([1.0, float("nan"), 1.0])
    assert not tolerance.judge(bad, ref.float(), ref, torch.float32)[0]
