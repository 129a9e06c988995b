"""Every bad argument through the shim classes and the core entry points raises a clear
ValueError / TypeError naming the argument and the rule (never an assert, a crash deep
inside a kernel, or a silent pass). One row per (class or function, bad argument)."""

from __future__ import annotations

import warnings

import pytest
import torch

import ringlib

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from dilated_attention_pytorch._impl import adaptive, base_modules, block_sparse, distributed, hierarchical, ring_qkv, ring_x
    from dilated_attention_pytorch._impl.common import ArgumentError
    from dilated_attention_pytorch._impl.configs import SparsePatternConfig

pytestmark = pytest.mark.filterwarnings("ignore::ringlib.deprecation.RinglibDeprecationWarning")

LISTS = ([16, 32], [1, 2])
X = torch.randn(1, 64, 32)
X64 = torch.randn(1, 64, 64)
Q = torch.randn(1, 64, 4, 8)
Q128 = torch.randn(1, 128, 4, 16)
FUSED_X = ["RingDilatedAttentionCorrect", "RingAttentionWrapper", "RingDilatedAttentionV3", "RingDilatedAttentionSDPA",
           "RingDilatedAttentionMemoryEfficient", "RingDilatedAttentionHilbertProper",
           "RingDilatedAttentionHilbertGPUOptimized", "RingDilatedAttentionHilbertOptimizedCorrect",
           "RingDilatedAttentionHilbertOptimizedFixedV2"]
CHECKED_LISTS = [n for n in FUSED_X if n != "RingDilatedAttentionMemoryEfficient"]  # it ignores them


def _core(**kw):
    return dict(segment_lengths=[16, 32], dilation_rates=[1, 2], **kw)


def _fused(name):
    return getattr(ring_x, name)(32, 4, *LISTS)


ROWS = [
    # x -> x classes: constructor and forward
    *[(f"{n} num_heads=0", lambda n=n: getattr(ring_x, n)(32, 0, *LISTS), ValueError,
       "num_heads must be a positive int, got 0") for n in FUSED_X],
    *[(f"{n} embed_dim=0", lambda n=n: getattr(ring_x, n)(0, 4, *LISTS), ValueError,
       "embed_dim must be a positive int, got 0") for n in FUSED_X],
    *[(f"{n} 30 % 4", lambda n=n: getattr(ring_x, n)(30, 4, *LISTS), ArgumentError,
       r"embed_dim \(30\) must be divisible by num_heads \(4\)") for n in FUSED_X],
    *[(f"{n} unequal lists", lambda n=n: getattr(ring_x, n)(32, 4, [16], [1, 2]), ArgumentError,
       "segment_lengths and dilation_rates must have the same length") for n in CHECKED_LISTS],
    *[(f"{n} integer x", lambda n=n: _fused(n)(X.long()), TypeError,
       "x must be a floating-point tensor, got torch.int64") for n in FUSED_X],
    *[(f"{n} x of width 16", lambda n=n: _fused(n)(X[..., :16]), ValueError,
       r"x must have shape \(batch, seq, 32\), got \(1, 64, 16\)") for n in FUSED_X],
    ("RingDilatedAttentionFixedSimple num_heads=0", lambda: ring_x.RingDilatedAttentionFixedSimple(32, 0), ValueError,
     "num_heads must be a positive int"),
    ("RingDilatedAttentionFixedSimple integer x", lambda: ring_x.RingDilatedAttentionFixedSimple(32, 4)(X.long()),
     TypeError, "x must be a floating-point tensor"),
    ("RingDilatedAttentionHilbertCore heads=0", lambda: ring_x.RingDilatedAttentionHilbertCore(dim=32, heads=0, **_core()),
     ValueError, "heads must be a positive int, got 0"),
    ("RingDilatedAttentionHilbertCore 30 % 4", lambda: ring_x.RingDilatedAttentionHilbertCore(dim=30, heads=4, **_core()),
     ArgumentError, r"dim \(30\) must be divisible by heads \(4\)"),
    ("RingDilatedAttentionHilbertCore unequal lists",
     lambda: ring_x.RingDilatedAttentionHilbertCore(dim=32, heads=4, segment_lengths=[16], dilation_rates=[1, 2]),
     ArgumentError, "segment_lengths and dilation_rates must have the same length"),
    # q, k, v classes
    ("RingDilatedAttentionHilbertOptimizedFixed heads=0",
     lambda: ring_qkv.RingDilatedAttentionHilbertOptimizedFixed(dim=32, heads=0, **_core()), ValueError,
     "heads must be a positive int, got 0"),
    ("RingDilatedAttentionHilbertOptimizedFixed dim=0",
     lambda: ring_qkv.RingDilatedAttentionHilbertOptimizedFixed(dim=0, heads=4, **_core()), ValueError,
     "dim must be a positive int, got 0"),
    ("RingDilatedAttentionHilbertOptimizedFixed unequal lists",
     lambda: ring_qkv.RingDilatedAttentionHilbertOptimizedFixed(dim=32, heads=4, segment_lengths=[16],
                                                                dilation_rates=[1, 2]),
     ArgumentError, "segment_lengths and dilation_rates must have the same length"),
    ("RingDilatedAttentionHilbertOptimizedFixed integer q",
     lambda: ring_qkv.RingDilatedAttentionHilbertOptimizedFixed(dim=32, heads=4, **_core())(Q.long(), Q, Q),
     TypeError, "q must be a floating-point tensor, got torch.int64"),
    ("RingDilatedAttentionHilbertCoreFixed heads=0",
     lambda: ring_qkv.RingDilatedAttentionHilbertCoreFixed(dim=32, heads=0, **_core()), ValueError,
     "heads must be a positive int, got 0"),
    ("RingDilatedAttentionHilbertCoreFixed k of another length",
     lambda: ring_qkv.RingDilatedAttentionHilbertCoreFixed(dim=32, heads=4, **_core())(Q, Q[:, :32], Q[:, :32]),
     ValueError, "q and k must have the same sequence length"),
    ("DilatedAttention unequal lists", lambda: base_modules.DilatedAttention([16], [1, 2]), ValueError,
     r"segment_lengths \(1\) and dilation_rates \(2\) must have the same length"),
    ("DilatedAttention float64 v", lambda: base_modules.DilatedAttention(*LISTS)(Q, Q, Q.double()), ValueError,
     "query, key and value must share dtype and device"),
    # separate projections
    ("RingDistributedDilatedAttention num_heads=0", lambda: distributed.RingDistributedDilatedAttention(64, 0, *LISTS),
     ValueError, "num_heads must be a positive int, got 0"),
    ("RingDistributedDilatedAttention key of another length",
     lambda: distributed.RingDistributedDilatedAttention(64, 4, *LISTS)(X64, X64[:, :32], X64), ValueError,
     r"query, key and value must have one shape \(batch, seq, embed_dim=64\), got \(1, 64, 64\), \(1, 32, 64\)"),
    ("RingDistributedDilatedAttention query of width 32",
     lambda: distributed.RingDistributedDilatedAttention(64, 4, *LISTS)(X64[..., :32], X64, X64), ValueError,
     "query, key and value must have one shape"),
    ("RingDistributedDilatedAttention integer value",
     lambda: distributed.RingDistributedDilatedAttention(64, 4, *LISTS)(X64, X64, X64.long()), TypeError,
     "value must be a floating-point tensor, got torch.int64"),
    ("BlockSparseRingMultiheadDilatedAttention num_heads=0",
     lambda: block_sparse.BlockSparseRingMultiheadDilatedAttention(64, 0, *LISTS), ValueError,
     "num_heads must be a positive int, got 0"),
    ("BlockSparseRingMultiheadDilatedAttention key of another length",
     lambda: block_sparse.BlockSparseRingMultiheadDilatedAttention(64, 4, *LISTS)(X64, X64[:, :32], X64), ValueError,
     "query, key and value must have one shape"),
    ("BlockSparseRingMultiheadDilatedAttention integer key",
     lambda: block_sparse.BlockSparseRingMultiheadDilatedAttention(64, 4, *LISTS)(X64, X64.long(), X64), TypeError,
     "key must be a floating-point tensor"),
    ("BlockSparseRingDistributedDilatedAttention num_heads=0",
     lambda: hierarchical.BlockSparseRingDistributedDilatedAttention(64, 0, *LISTS), ValueError,
     "num_heads must be a positive int, got 0"),
    ("BlockSparseRingDistributedDilatedAttention integer q",
     lambda: hierarchical.BlockSparseRingDistributedDilatedAttention(64, 4, *LISTS)(Q128.long(), Q128, Q128),
     TypeError, "q must be a floating-point tensor"),
    # block-sparse q, k, v classes
    ("BlockSparseRingDilatedAttention unequal lists", lambda: block_sparse.BlockSparseRingDilatedAttention([16], [1, 2]),
     ValueError, "segment_lengths and dilation_rates must have the same length"),
    ("BlockSparseRingDilatedAttention integer q",
     lambda: block_sparse.BlockSparseRingDilatedAttention(*LISTS, SparsePatternConfig(block_size=16))(Q.long(), Q, Q),
     TypeError, "q must be a floating-point tensor"),
    ("BlockSparseRingDilatedAttentionFixed heads=0",
     lambda: block_sparse.BlockSparseRingDilatedAttentionFixed(dim=32, heads=0, **_core()), ValueError,
     "heads must be a positive int, got 0"),
    ("BlockSparseAdaptive num_heads=0", lambda: adaptive.BlockSparseAdaptive(*LISTS, 0, 8), ValueError,
     "num_heads must be an int >= 1, got 0"),
    ("create_adaptive_block_sparse num_heads=0", lambda: adaptive.create_adaptive_block_sparse(32, 0), ValueError,
     "num_heads must be a positive int, got 0"),
]


@pytest.mark.parametrize("label, call, error, match", ROWS, ids=[r[0] for r in ROWS])
def test_shim_bad_argument(label, call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_asserted_checks_stay_catchable_as_assertion_errors():
    """Old code wrapped constructors in ``except AssertionError``; the checks are ValueErrors now."""
    with pytest.raises(AssertionError):
        ring_x.RingDilatedAttentionCorrect(30, 4, *LISTS)
    assert issubclass(ArgumentError, ValueError)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
@pytest.mark.parametrize("build", [
    lambda: ring_x.RingDilatedAttentionHilbertProper(32, 4, *LISTS),
    lambda: ring_x.RingDilatedAttentionCorrect(32, 4, *LISTS),
])
def test_fused_classes_cast_floating_input_to_the_parameter_dtype(build, dtype):
    m = build().eval()
    assert torch.equal(m(X.to(dtype)), m(X.to(dtype).float()))


@pytest.mark.parametrize("build, forward", [
    (lambda: distributed.RingDistributedDilatedAttention(64, 4, *LISTS), lambda m, x: m(x, x, x)[0]),
    (lambda: block_sparse.BlockSparseRingMultiheadDilatedAttention(
        64, 4, *LISTS, sparse_config=SparsePatternConfig(block_size=16)), lambda m, x: m(x, x, x)),
])
def test_projection_classes_cast_like_the_fused_ones(build, forward):
    """The same rule as the fused classes: floating input is cast to the parameter dtype."""
    m = build().eval()
    out = forward(m, X64.double())
    assert out.dtype == torch.float32 and torch.equal(out, forward(m, X64))


# -- core entry points ----------------------------------------------------------------------

PATTERN = ringlib.Dilated([8, 16], [1, 2])
QC = torch.randn(1, 16, 2, 4)
CORE_ROWS = [
    ("attention q 3-D", lambda f: f(QC[0], QC[0], QC[0], PATTERN), ValueError, "q must have shape"),
    ("attention integer k", lambda f: f(QC, QC.long(), QC, PATTERN), TypeError, "k must be a floating-point"),
    ("attention k of another length", lambda f: f(QC, QC[:, :8], QC[:, :8], PATTERN), ValueError,
     "same sequence length"),
    ("attention pattern by name", lambda f: f(QC, QC, QC, "dilated"), TypeError, "pattern must be a ringlib pattern"),
    ("attention causal=1", lambda f: f(QC, QC, QC, PATTERN, causal=1), TypeError, "causal must be a bool"),
    ("attention scale=0", lambda f: f(QC, QC, QC, PATTERN, scale=0.0), ValueError, "scale must be a positive"),
    ("attention scale=True", lambda f: f(QC, QC, QC, PATTERN, scale=True), ValueError, "scale must be a positive"),
    ("attention dropout_p=1", lambda f: f(QC, QC, QC, PATTERN, dropout_p=1.0), ValueError, r"dropout_p must be in"),
    ("attention dropout_p='0.1'", lambda f: f(QC, QC, QC, PATTERN, dropout_p="0.1"), TypeError,
     "dropout_p must be a number"),
    ("attention backend", lambda f: f(QC, QC, QC, PATTERN, backend="cuda"), ValueError, "backend must be one of"),
    ("attention ordering", lambda f: f(QC, QC, QC, PATTERN, ordering="zorder"), ValueError, "ordering must be"),
    ("attention ordering not a permutation", lambda f: f(QC, QC, QC, PATTERN, ordering=lambda m: [0] * m),
     ValueError, "permutation"),
    ("attention layout", lambda f: f(QC, QC, QC, PATTERN, layout="striped"), ValueError, "layout must be one of"),
]


@pytest.mark.parametrize("entry", [ringlib.attention, lambda *a, **kw: ringlib.ring.attention(*a, group=None, **kw)],
                         ids=["ringlib.attention", "ringlib.ring.attention"])
@pytest.mark.parametrize("label, call, error, match", CORE_ROWS, ids=[r[0] for r in CORE_ROWS])
def test_core_bad_argument(entry, label, call, error, match):
    with pytest.raises(error, match=match):
        call(entry)


MODULE_ROWS = [
    ("MultiheadDilatedAttention num_heads=0", lambda: ringlib.MultiheadDilatedAttention(8, 0, PATTERN), ValueError,
     "num_heads must be a positive int"),
    ("MultiheadDilatedAttention num_heads=True", lambda: ringlib.MultiheadDilatedAttention(8, True, PATTERN),
     ValueError, "num_heads must be a positive int"),
    ("MultiheadDilatedAttention 10 % 3", lambda: ringlib.MultiheadDilatedAttention(10, 3, PATTERN), ValueError,
     "divisible by num_heads"),
    ("MultiheadDilatedAttention integer x", lambda: ringlib.MultiheadDilatedAttention(8, 2, PATTERN)(
        torch.zeros(1, 16, 8, dtype=torch.long)), TypeError, "floating-point"),
    ("MultiheadDilatedAttention x of width 6", lambda: ringlib.MultiheadDilatedAttention(8, 2, PATTERN)(
        torch.zeros(1, 16, 6)), ValueError, r"x must have shape \(batch, seq, 8\)"),
    ("DilatedAttention pattern list", lambda: ringlib.DilatedAttention([8]), TypeError, "pattern must be"),
    ("DilatedAttention dropout=1", lambda: ringlib.DilatedAttention(PATTERN, dropout=1.0), ValueError,
     r"dropout must be in \[0, 1\)"),
    ("DilatedAttention ordering", lambda: ringlib.DilatedAttention(PATTERN, ordering="zorder"), ValueError,
     "ordering must be"),
]


@pytest.mark.parametrize("label, call, error, match", MODULE_ROWS, ids=[r[0] for r in MODULE_ROWS])
def test_module_bad_argument(label, call, error, match):
    with pytest.raises(error, match=match):
        call()
