"""What the first CUDA run (H100, float32/bfloat16/float16) found, pinned down on the CPU."""

import dataclasses

import pytest
import torch
from torch import nn

import ringlib_parity as parity
from ringlib_parity import runner
from ringlib_parity.matrix import variants
from ringlib_parity.report import FAIL, PASS, Report
from ringlib_parity.runner import Evaluation


@pytest.mark.parametrize("name", ["RingDilatedAttentionMemoryEfficient", "RingDistributedDilatedAttention"])
def test_plain_low_precision_computation_of_modules(small, name):
    """The reference backend returns float32 for bfloat16 input; the plain computation of a
    module around it must still run (out_proj / LayerNorm in bfloat16)."""
    report = parity.check(names=[name], dtypes=["bfloat16", "float16"], matrix=small)
    assert report.ok, report.failures[:3]
    assert any(r.check == "backend" and r.status == PASS and r.dtype == "bfloat16" for r in report.results)


def test_plain_precision_keeps_the_dtype():
    import ringlib

    q = torch.randn(1, 64, 2, 16, dtype=torch.bfloat16)
    with runner._plain_precision(torch.bfloat16):
        out = ringlib.attention(q, q, q, ringlib.Dilated((32, 64), (1, 2)), backend="reference")
    assert out.dtype == torch.bfloat16
    from ringlib.backends import reference

    assert reference.attention.__module__ == "ringlib.backends.reference"  # restored


def test_backend_selection_reaches_the_hierarchical_block_sparse_class(small):
    report = parity.check(names=["BlockSparseRingDistributedDilatedAttention"], dtypes=["float32", "bfloat16"],
                          matrix=small)
    assert report.ok, report.failures[:3]


def test_adaptive_names_use_the_adaptive_shapes():
    small_shape = parity.Shape(2, 256, 8, 64)
    m = dataclasses.replace(parity.CUDA, adaptive_shapes=(small_shape,))
    assert {v.shape for v in variants(["adaptive_config", "segment_lengths", "dilation_rates"], True, m)} == {
        small_shape}
    assert {v.shape for v in variants(["segment_lengths", "dilation_rates"], True, m)} == set(m.shapes)
    assert {v.shape for v in variants(["adaptive_config"], True, parity.CPU)} == set(parity.CPU.shapes)


def test_place_moves_a_half_precision_instance_to_float32():
    m = nn.Linear(4, 4).half()
    runner._place(m, torch.device("cpu"))
    assert m.weight.dtype == torch.float32
    keep = nn.Linear(4, 4).double()  # a float64 instance is left alone
    runner._place(keep, torch.device("cpu"))
    assert keep.weight.dtype == torch.float64


def _ev(out, grad):
    return Evaluation({"output": out.clone(), "grad x": grad.clone()})


def _bitwise(a, b, rerun):
    report = Report()
    runner._bitwise("N", "case", a, b, report, None, "ringlib.X()", rerun=rerun)
    return {r.quantity: r for r in report.results}


def test_bitwise_on_the_cpu_is_bit_for_bit():
    x = torch.randn(8)
    got = _bitwise(_ev(x, x), _ev(x, x + 1e-6), rerun=None)
    assert got["output"].status == PASS and got["grad x"].status == FAIL


def test_cuda_gradient_held_to_the_run_to_run_bound_only_when_the_shim_is_not_reproducible():
    x, g = torch.randn(8), torch.randn(8)
    a, b = _ev(x, g), _ev(x, g + 1e-6)
    # the shim's own backward differs between two runs: the flash-style bound applies
    got = _bitwise(a, b, rerun=lambda: _ev(x, g - 1e-6))
    assert got["grad x"].status == PASS and "not reproducible" in got["grad x"].message
    assert got["grad x"].bound > 0
    # reproducible shim: any difference is a real one
    got = _bitwise(a, b, rerun=lambda: _ev(x, g))
    assert got["grad x"].status == FAIL and got["grad x"].bound == 0.0
    # a large difference fails even with a nondeterministic backward
    got = _bitwise(a, _ev(x, g * 1.01), rerun=lambda: _ev(x, g - 1e-6))
    assert got["grad x"].status == FAIL


def test_cuda_output_is_never_relaxed():
    x, g = torch.randn(8), torch.randn(8)
    got = _bitwise(_ev(x, g), _ev(x + 1e-6, g), rerun=lambda: _ev(x - 1e-6, g))
    assert got["output"].status == FAIL and "forward is not reproducible" in got["output"].message


def test_parity_builds_what_ringlib_migrate_writes():
    """Check 1 evaluates the rewrite as ``ringlib migrate`` writes it into a user's file."""
    from ringlib_codemods import LegacyIndex, migrate_code
    from ringlib_legacy import registry
    from ringlib_parity import recipe

    entry = registry.by_key()["RingDilatedAttentionCorrect"]
    kwargs = {"embed_dim": 64, "num_heads": 4, "segment_lengths": [16, 32], "dilation_rates": [1, 2],
              "use_hilbert": False, "dropout": 0.1}
    source, _ = recipe.render(entry, "preserve", kwargs)
    call = f"{entry.name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    user = f"from dilated_attention_pytorch.ring import {entry.name}\n\nx = {call}\n"
    migrated = migrate_code(user, LegacyIndex.load(), semantics="preserve", path="/p/m.py")
    assert migrated.error is None and migrated.changed
    assert migrated.code.split("x = ", 1)[1].strip() == source
    assert "ordering=None" in source and "dropout=0.1" in source
