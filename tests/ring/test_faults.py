"""Faults of one rank end every other rank with ringlib's ``RingError`` naming it, within
``RINGLIB_RING_TIMEOUT`` (2 s here) plus a small margin, on spawned gloo CPU groups."""

from __future__ import annotations

import math

import pytest

from ringlib.ring import faults

T = 2.0  # RINGLIB_RING_TIMEOUT of the spawned ranks
MARGIN = 1.5  # the grace for the other survivors' notes (0.5 s) plus process scheduling on a busy machine


def _by_label(results):
    return [{c["label"]: c for c in cases} for cases in results]


def _names_rank_1(case, where):
    assert case.get("error", "").startswith("RingError: ring attention: "), f"{where}: {case}"
    assert case["failed_rank"] == 1, f"{where}: {case['error']}"
    assert "rank 1 " in case["error"], f"{where}: {case['error']}"


def test_faults_before_the_call_end_every_rank_and_leave_the_group_usable(spawn):
    ranks = _by_label(spawn(3, "faults before", timeout_s=150, ring_timeout_s=T))
    for r, cases in enumerate(ranks):
        where = f"rank {r}"
        bad_input, stall = cases["bad input"], cases["stall before"]
        if r == 1:  # its own error, as raised
            assert bad_input["error"].startswith("ValueError: q, k, v must have equal heads"), bad_input
            # it came late: the others had given up, it stops at once instead of entering the ring
            _names_rank_1(stall, where)
            assert "rank 1 did not reach the ring input check" in stall["error"], stall
            assert stall["elapsed"] < 1.0, stall
        else:  # told at once, not after the timeout, and not "within N s"
            _names_rank_1(bad_input, where)
            assert "rank 1 failed before the ring: ValueError: q, k, v must have equal heads" in bad_input["error"]
            assert "within" not in bad_input["error"] and bad_input["elapsed"] < 1.0, bad_input
            _names_rank_1(stall, where)
            assert f"rank 1 did not reach the ring input check within {T:g} s" in stall["error"], stall
            assert T - 0.1 <= stall["elapsed"] <= T + MARGIN, stall
            raised = cases["raise before"]
            _names_rank_1(raised, where)
            assert "rank 1 did not reach the ring input check" in raised["error"]
            assert T - 0.1 <= raised["elapsed"] <= T + MARGIN, raised
        different = cases["different orderings"]
        assert different["error"].startswith("ValueError: ring attention: ranks disagree on ordering ("), different
        assert different["elapsed"] < 1.0 + T / 2, different
        # two different callables giving the same permutations agree, and compute exactly
        assert "error" not in cases["equal orderings"] and cases["equal orderings"]["out"] < 1e-12, where
        assert "error" not in cases["none"] and cases["none"]["out"] < 1e-12, where
    assert ranks[0]["different orderings"]["error"] == ranks[2]["different orderings"]["error"]


@pytest.mark.parametrize("world, scenario", [(2, "hang in ring"), (4, "die in ring")])
def test_faults_inside_the_ring_end_every_other_rank_naming_the_rank(spawn, world, scenario):
    ranks = _by_label(spawn(world, scenario, timeout_s=150, ring_timeout_s=T))
    assert ranks[1][scenario].get("died", False) == (scenario == "die in ring")
    for r in set(range(world)) - {1}:
        case = ranks[r][scenario]
        _names_rank_1(case, f"rank {r}")
        assert case["elapsed"] <= T + MARGIN, case
        if scenario == "hang in ring":
            assert "failed, stalled or left the ring" in case["error"], case
        if "lost rank" in case["error"]:  # a closed connection: seen at once, never "within N s"
            assert "within" not in case["error"].split(";")[0], case


@pytest.mark.parametrize("raw", ["abc", "-5", "0", "inf", "nan", "1e400", " "])
def test_ring_timeout_must_be_a_positive_finite_number(monkeypatch, raw):
    monkeypatch.setenv(faults.ENV, raw)
    if not raw.strip():  # blank: unset, the group's timeout applies
        return
    with pytest.raises(ValueError, match=r"RINGLIB_RING_TIMEOUT must be a positive finite number of seconds, got"):
        faults.ring_timeout()


@pytest.mark.parametrize("raw, seconds", [("2", 2.0), ("0.25", 0.25), (" 30 ", 30.0)])
def test_ring_timeout_reads_seconds(monkeypatch, raw, seconds):
    monkeypatch.setenv(faults.ENV, raw)
    assert math.isclose(faults.ring_timeout(), seconds)
