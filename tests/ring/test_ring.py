"""Ring attention over gloo: 2, 3 and 4 spawned CPU ranks against the single-process result.

Each spawned group runs many cases (``cases.py``) to amortise start-up. Float64 results
must match to 1e-10; float32 ones within the flash-attention rule of ``ringlib.testing``
(error <= 4 x the error of a plain float32 computation + 1e-6) against float64.
"""

from __future__ import annotations

import time

import pytest
import torch

import ringlib
from ringlib.ring import sharding
from ringlib.testing import FLOOR, K_FACTOR

GRADS = ("out", "dq", "dk", "dv")


def _check_exact(results):
    for rank, cases in enumerate(results):
        for case in cases:
            where = f"rank {rank}, case {case['label']!r}"
            assert "error" not in case, f"{where}: {case.get('error')}\n{case.get('trace')}"
            for name in GRADS:
                if name not in case:
                    continue
                if "plain_" + name in case:  # float32: flash-attention-style rule
                    bound = K_FACTOR * case["plain_" + name] + FLOOR[torch.float32]
                else:
                    bound = 1e-10
                assert case[name] <= bound, f"{where}: {name} error {case[name]:.3e} > {bound:.3e}"
            assert case.get("public", 0.0) == 0.0, f"{where}: ringlib.attention(group=...) differs"


def _by_label(results, rank=0):
    return {c["label"]: c for c in results[rank]}


@pytest.mark.parametrize("world", [2, 3, 4])
def test_forward_and_gradients_equal_single_process(spawn, world):
    results = spawn(world, "exact")
    _check_exact(results)
    cases = _by_label(results)
    # the strided strategy serves every regular case; only the irregular ones go masked
    masked = {label for label, c in cases.items() if c.get("strategy") == "masked"}
    assert masked == {"dilated straddling (masked)", "dilated snake spanning (masked)", "strided keys curve_b",
                      "reference backend", "block sparse softmax", "block sparse per_block_sum",
                      "block sparse per-head zigzag", "block sparse per-head sum", "block sparse tiled"}
    for rank in range(world):
        c = _by_label(results, rank)
        # segments inside a shard: nothing is communicated
        assert c["dilated hilbert local"]["sent"] == 0
        # dense: K and V forward, K and V again backward, then their gradients (float64
        # here), each over (world - 1) hops
        dense = c["dense"]
        assert dense["sent"] == 6 * (world - 1) * dense["shard_bytes"]
        # dilated (8|16|32, rates 1|2|4): only the 32-row segments span shards, at rate 4:
        # a quarter of the shard's rows per head travels, one hop inside a pair of ranks
        lse = c["dilated lse"]
        assert lse["sent"] <= 6 * lse["shard_bytes"] // 4
        # the bytes on the wire are the least the pattern needs (ring.traffic, from its masks),
        # on every rank and for every case: relay rings without a causal mask, direct rings
        # (only the rows the receiver reads) with one, pairwise exchanges in the masked strategy
        measured = [label for label, case in c.items() if "minimum" in case]
        assert len(measured) >= 25
        for label in measured:
            assert c[label]["sent"] == c[label]["minimum"], (label, c[label]["sent"], c[label]["minimum"])
        # causal, contiguous: the last rank's keys are seen by no other rank; it sends only the
        # gradients of the keys it received, back to their owners
        if rank == world - 1:
            dense = c["dense causal"]
            assert dense["sent"] == 2 * (world - 1) * dense["shard_bytes"]
        assert c["block sparse softmax"]["sent"] < 6 * (world - 1) * c["block sparse softmax"]["shard_bytes"]


def test_mismatched_inputs_raise_on_every_rank(spawn):
    results = spawn(3, "failures")
    for rank, cases in enumerate(results):
        for case in cases:
            assert "error" in case, f"rank {rank}: {case['label']} did not raise"
            assert case["error"].startswith("ValueError: ring attention: ranks disagree"), case["error"]
    assert [c["error"] for c in results[0]] == [c["error"] for c in results[2]]


def test_rank_failing_mid_ring_errors_everywhere_without_hang(spawn):
    start = time.monotonic()
    results = spawn(3, "mid_ring", timeout_s=60, ring_timeout_s=2)
    assert time.monotonic() - start < 60
    errors = [cases[0].get("error", "") for cases in results]
    assert errors[1] == "RuntimeError: injected failure on rank 1"
    for rank in (0, 2):  # the rank that failed and what it raised, whichever peer each waited for
        assert errors[rank].startswith(f"RingError: ring attention: rank {rank} "), errors[rank]
        assert errors[rank].endswith("; rank 1 failed inside the ring (forward): RuntimeError: injected failure on "
                                     "rank 1"), errors[rank]


def test_without_a_group_no_distributed_is_needed():
    import torch.distributed as dist

    assert not dist.is_initialized()
    q, k, v = (torch.randn(1, 12, 2, 4, dtype=torch.float64) for _ in range(3))
    pattern = ringlib.Dilated([4, 8], [1, 2])
    expected = ringlib.attention(q, k, v, pattern, causal=True)
    assert torch.equal(ringlib.ring.attention(q, k, v, pattern, group=None, causal=True), expected)
    assert torch.equal(ringlib.attention(q, k, v, pattern, causal=True, group=None), expected)
    assert ringlib.shard_sequence(q, None) is q and ringlib.gather_sequence(q, None) is q


def test_zigzag_chunks_and_positions():
    assert sharding.chunks("zigzag", 4, 1, 8) == ((4, 4), (24, 4))
    assert sharding.positions("contiguous", 3, 2, 4).tolist() == [8, 9, 10, 11]
    every = torch.cat([sharding.positions("zigzag", 3, r, 4) for r in range(3)]).sort().values
    assert torch.equal(every, torch.arange(12))
    with pytest.raises(ValueError, match="layout must be one of"):
        sharding.chunks("striped", 2, 0, 8)


@pytest.mark.parametrize("world", [2, 3])
def test_seeded_dropout_equals_single_process(spawn, world):
    """Dropout by position: P ranks drop the entries one process drops (forward and q/k/v
    gradients, float64), whether the seed is given or drawn alike on every rank."""
    results = spawn(world, "dropout")
    for rank, cases in enumerate(results):
        assert len(cases) == 5
        for case in cases:
            where = f"rank {rank}, case {case['label']!r}"
            assert "error" not in case, f"{where}: {case.get('error')}\n{case.get('trace')}"
            for name in GRADS:
                assert case[name] <= 1e-12, f"{where}: {name} error {case[name]:.3e}"
            assert case["dropped"] > 1e-3, f"{where}: dropout changed nothing"


def test_torch_compile_of_a_module_calling_the_ring(spawn):
    """fullgraph=True and no graph break: the ring is one operator per call in the graph; the
    compiled output and gradients (input and parameters) equal the float64 single-process
    reference and the eager ring; a dropout seed drawn at run time is the eager one."""
    results = spawn(2, "compiled", timeout_s=400)
    for rank, (case,) in enumerate(results):
        where = f"rank {rank}"
        assert "error" not in case, f"{where}: {case.get('error')}\n{case.get('trace')}"
        assert case["graph_breaks"] == 0 and case["graphs"] == 1, case
        assert case["ops"] == 3, case  # one ring operator per pattern
        for name in ("out", "dq", "dk", "eager_out", "eager_dq"):
            assert case[name] <= 1e-10, f"{where}: {name} error {case[name]:.3e}"
        assert case["dropout"] <= 1e-12 and case["dropped"] > 1e-3, case
