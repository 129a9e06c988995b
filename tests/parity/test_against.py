"""``--against``: the original implementation runs in its own process and each name is
classified. The stand-in in ``standin_legacy/`` (written from the catalog) reproduces some
names, keeps the legacy bugs of others, and raises where the original raised."""

import importlib.util
from pathlib import Path


import ringlib_parity as parity

STANDIN = Path(__file__).parent / "standin_legacy"
NAMES = ["RingDilatedAttentionFixedSimple", "RingDilatedAttentionMemoryEfficient", "RingDilatedAttentionCorrect",
         "RingDistributedDilatedAttention", "StableRingAccumulator"]



def _check(small):
    return parity.check(names=NAMES, matrix=small, against=STANDIN, backends=[])


def test_classification(small):
    report = _check(small)
    verdict = {name: report.classification(name) for name in NAMES}
    assert verdict == {
        "RingDilatedAttentionFixedSimple": parity.EQUIVALENT,
        "RingDilatedAttentionMemoryEfficient": parity.EQUIVALENT,
        "RingDilatedAttentionCorrect": parity.DIVERGES,  # the causal leak, only under causal
        "RingDistributedDilatedAttention": parity.LEGACY_FAILED,
        "StableRingAccumulator": parity.DIVERGES,
    }
    assert report.ok  # none of these is a failure of the migration
    against = [r for r in report.results if r.check == "against"]
    correct = [r for r in against if r.name == "RingDilatedAttentionCorrect" and r.quantity == "output"]
    assert {r.status for r in correct if " causal=False" in r.case} == {parity.EQUIVALENT}
    diverged = [r for r in correct if " causal=True" in r.case]
    assert {r.status for r in diverged} == {parity.DIVERGES}
    assert all("causal" in r.message and r.error > 0.1 for r in diverged)  # reason + measured error
    backward = [r for r in against if r.name == "RingDilatedAttentionCorrect" and r.quantity == "grads"]
    assert backward and {r.status for r in backward} == {parity.LEGACY_FAILED}
    assert "inplace" in backward[0].message
    failed = [r for r in against if r.name == "RingDistributedDilatedAttention"]
    assert all("Unknown attention type" in r.message for r in failed)
    # stand-ins only for the optional packages the old code imports that are not installed
    missing = [m for m in ("torchscale", "triton", "xformers") if importlib.util.find_spec(m) is None]
    assert report.meta["import-only stand-ins"] == (", ".join(missing) or "none needed")
    assert report.meta["original"].startswith(str(STANDIN))


def test_unexplained_difference_fails(small, monkeypatch):
    monkeypatch.setenv("STANDIN_BUG", "1")  # the stand-in's MemoryEfficient uses a wrong scale
    report = parity.check(names=["RingDilatedAttentionMemoryEfficient"], matrix=small, against=STANDIN, backends=[])
    assert report.classification("RingDilatedAttentionMemoryEfficient") == parity.UNEXPLAINED
    assert not report.ok


def test_missing_original_is_reported(small, tmp_path):
    report = parity.check(names=["RingDilatedAttentionFixedSimple"], matrix=small, against=tmp_path, backends=[])
    assert report.classification("RingDilatedAttentionFixedSimple") == parity.LEGACY_FAILED
