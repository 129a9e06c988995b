"""The attention names and models added for 0.2 are checked through the registry like the 24: a
safe rewrite bit for bit against the shim and against the float64 reference; a name the codemod
never rewrites is reported as unsafe, not as an error."""

import dataclasses

import ringlib_parity as parity
from ringlib.backends import strided


def _whole(small):
    return dataclasses.replace(small, whole_segment_sets=(((32, 128), (1, 2)),))


def test_dilated_attention_is_checked_bitwise_and_against_the_reference(small):
    report = parity.check(names=["DilatedAttention", "LongNet"], matrix=_whole(small))
    assert report.ok, report.failures[:3]
    mine = [r for r in report.results if r.name == "DilatedAttention"]
    assert {(r.check, r.status) for r in mine} == {("bitwise", "PASS"), ("backend", "PASS")}
    assert all("segments=[32, 128]" in r.case for r in mine if r.check == "backend")
    longnet = [r for r in report.results if r.name == "LongNet"]  # a whole model, rewritten to ringlib.models
    assert {(r.check, r.status) for r in longnet} == {("bitwise", "PASS"), ("backend", "PASS")}
    assert all("segments=[32, 128]" in r.case for r in longnet)


def test_matrix_without_a_whole_segment_set_is_an_error(small):
    report = parity.check(names=["DilatedAttention"], matrix=small)
    assert not report.ok
    assert "multiple of its largest segment" in report.failures[0].message


def test_perturbed_backend_fails_for_an_added_name(monkeypatch, small):
    original = strided.attention

    def perturbed(*args, **kwargs):
        return original(*args, **kwargs) * (1 + 1e-3)
    monkeypatch.setattr(strided, "attention", perturbed)
    report = parity.check(names=["DilatedAttention"], matrix=_whole(small))
    bad = [r for r in report.failures if r.check == "backend"]
    assert bad and {r.name for r in bad} == {"DilatedAttention"}


def test_every_registry_name_passes_the_cpu_matrix():
    """What CI runs as ``ringlib parity --device cpu`` (float32): a name whose old class needs
    whole segments but is given the ragged sets (MultiheadDilatedAttention once) is an error."""
    report = parity.check(device="cpu", dtypes=["float32"])
    assert report.ok, [f"{r.name} {r.case}: {r.message}" for r in report.failures[:3]]
    assert len({r.name for r in report.results}) > 40
