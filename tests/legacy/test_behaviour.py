"""Old call shapes, validation, return conventions, state_dict keys and isinstance."""

import warnings

import pytest
import torch

import ringlib

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import dilated_attention_pytorch as dap
    from dilated_attention_pytorch import ring, sparse
    from dilated_attention_pytorch.ring import hilbert, utils
    from dilated_attention_pytorch.ring.utils import ring_attention_lse as lse_mod
    from dilated_attention_pytorch.ring.utils import ring_attention_memory_efficient as me_mod

pytestmark = pytest.mark.filterwarnings("ignore::ringlib.deprecation.RinglibDeprecationWarning")

X = torch.randn(2, 64, 32)
QKV = torch.randn(3, 2, 64, 4, 8).unbind(0)
LISTS = ([16, 32], [1, 2])


@pytest.mark.parametrize("build", [
    lambda: ring.RingDilatedAttentionCorrect(32, 4, *LISTS, 0.0, True, False, "cpu", torch.float32),
    lambda: ring.RingDilatedAttentionV3(32, 4, *LISTS),
    lambda: ring.RingDilatedAttentionSDPA(32, 4, *LISTS, device="cpu"),
    lambda: ring.RingDilatedAttentionFixedSimple(32, 4, 0.0),
    lambda: ring.RingDilatedAttentionMemoryEfficient(32, 4),
    lambda: ring.RingDilatedAttentionHilbertProper(32, 4, *LISTS),
    lambda: dap.RingDilatedAttentionHilbertGPUOptimized(32, 4, *LISTS, attention_backend="flash"),
    lambda: ring.RingDilatedAttentionHilbertCore(dim=32, heads=4, segment_lengths=LISTS[0], dilation_rates=LISTS[1]),
    lambda: hilbert.RingDilatedAttentionHilbertOptimizedCorrect(32, 4, *LISTS, memory_efficient=False),
    lambda: hilbert.RingDilatedAttentionHilbertOptimizedFixedV2(32, 4, *LISTS, dropout=0.0),
])
def test_x_modules_are_canonical_and_return_old_shapes(build):
    m = build().eval()
    assert isinstance(m, ringlib.MultiheadDilatedAttention)
    out = m(X)
    assert isinstance(out, torch.Tensor) and out.shape == X.shape
    assert {k.rpartition(".")[0] for k in m.state_dict()} >= {"qkv_proj", "out_proj"}


def test_need_weights_and_signature_quirks():
    m = ring.RingDilatedAttentionCorrect(32, 4, *LISTS, device="cpu")
    out, weights = m(X, need_weights=True)
    assert weights is None and out.shape == X.shape
    with pytest.raises(TypeError):
        ring.RingDilatedAttentionSDPA(32, 4, *LISTS, device="cpu")(X, need_weights=True)
    with pytest.raises(TypeError):
        ring.RingDilatedAttentionFixedSimple(32, 4)(X, is_causal=True)
    with pytest.raises(TypeError):
        ring.RingDilatedAttentionFixedSimple(32, 4, segment_lengths=[16])
    with pytest.raises(TypeError):
        ring.RingDilatedAttentionFixedSimple(32, 4, [16], [1])
    assert isinstance(ring.RingDilatedAttentionFixedSimple(32, 4, 0.1).dropout, torch.nn.Dropout)
    with pytest.warns(UserWarning, match="attn_mask"):
        ring.RingDilatedAttentionHilbertProper(32, 4, *LISTS)(X, attn_mask=torch.ones(64, 64))


def test_validation_keeps_old_exception_types():
    with pytest.raises(AssertionError):
        ring.RingDilatedAttentionCorrect(30, 4, *LISTS)
    with pytest.raises(AssertionError):
        ring.RingDilatedAttentionV3(32, 4, [16], [1, 2])
    with pytest.raises(ValueError):
        ring.RingDilatedAttentionCorrect(32, 4, [16, 32], [1, 0])
    with pytest.raises(ValueError, match="head_dim"):
        ring.RingDistributedDilatedAttention(36, 4, *LISTS)
    with pytest.raises(ValueError):
        ring.RingDistributedDilatedAttention(64, 4, *LISTS, zero_stage=4)
    with pytest.raises(ValueError, match="required"):
        ring.RingDilatedAttentionHilbertOptimizedFixed(dim=8)
    with pytest.raises(ValueError, match="divisible by block size"):
        sparse.BlockSparseRingDilatedAttention(*LISTS)(*(t[:, :40] for t in QKV))
    with pytest.raises(ValueError, match="Unknown pattern_type"):
        dap.SparsePatternConfig(pattern_type="nope")
    with pytest.raises(ValueError, match="Unknown pattern type: adaptive"):
        sparse.BlockSparseRingDilatedAttention(*LISTS, {"pattern_type": "adaptive"})(*QKV)
    with pytest.raises(ValueError, match="embed_dim and num_heads"):
        dap.create_block_sparse_attention("multihead")
    with pytest.raises(ValueError, match="Hilbert variant"):
        dap.get_block_sparse_preset("hilbert_standard")
    with pytest.raises(NotImplementedError):
        ring.RingDilatedAttentionHilbertCore.from_config(None)


def test_wrapper_and_hilbert_core_checkpoint_keys():
    w = ring.RingAttentionWrapper(32, 4, *LISTS, device="cpu")
    assert sorted(w.state_dict()) == ["attention.out_proj.bias", "attention.out_proj.weight",
                                      "attention.qkv_proj.bias", "attention.qkv_proj.weight"]
    core = ring.RingDilatedAttentionHilbertCore(dim=32, heads=4)
    assert {"hilbert_core.qkv_proj.weight", "hilbert_core.out_proj.weight"} <= set(core.state_dict())
    fixed = hilbert.RingDilatedAttentionHilbertCoreFixed(dim=32, heads=4, segment_lengths=[16, 32],
                                                         dilation_rates=[1, 2])
    assert sorted(fixed.state_dict())[:2] == ["hilbert_modules.0.out_proj.weight", "hilbert_modules.0.qkv_proj.weight"]


def test_causal_is_token_correct_in_preserve_profiles():
    m = ring.RingDilatedAttentionCorrect(32, 4, [32, 32], [1, 2], device="cpu").eval()
    x = X.clone().requires_grad_()
    m(x, is_causal=True)[:, 10].sum().backward()
    assert x.grad[:, 11:].abs().max() == 0  # no future token reaches position 10
    b = sparse.BlockSparseRingDilatedAttention(*LISTS, {"pattern_type": "local_window", "block_size": 16})
    q = QKV[0].clone().requires_grad_()
    b(q, QKV[1], QKV[2], is_causal=True)[:, 3].sum().backward()
    assert q.grad[:, 4:].abs().max() == 0


def test_intended_names_are_exact():
    q, k, v = (t.transpose(1, 2).double().requires_grad_() for t in QKV)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    for fn in (utils.ring_attention, me_mod.memory_efficient_ring_attention):
        torch.testing.assert_close(fn(q, k, v, is_causal=True), ref)
    assert torch.autograd.gradcheck(lambda a, b_, c: me_mod.MemoryEfficientRingAttentionFunction.apply(
        a, b_, c, None, 0.0, False, 0, 1, 0), (q[:1, :1, :8], k[:1, :1, :8], v[:1, :1, :8]))
    acc = ring.StableRingAccumulator()
    full, _ = lse_mod.compute_attention_with_lse(q, k, v)
    for lo, hi in ((0, 20), (20, 64)):
        acc.update(*lse_mod.compute_attention_with_lse(q, k[:, :, lo:hi], v[:, :, lo:hi]))
    torch.testing.assert_close(acc.get()[0].double(), full, rtol=1e-5, atol=1e-6)


def test_distributed_classes_construct_and_run():
    m = ring.RingDistributedDilatedAttention(64, 4, [32, 64], [1, 2])
    x = torch.randn(1, 64, 64)
    out, none = m(x, x, x, is_causal=True)
    assert none is None and out.shape == x.shape
    b = sparse.BlockSparseRingDistributedDilatedAttention(64, 4, [32], [1],
                                                         dap.DistributedSparseConfig(block_size=16), pattern_seed=3)
    assert isinstance(b, ring.RingDistributedDilatedAttention)
    out, weights = b(*QKV, return_attention_weights=True)
    assert weights.shape == (2, 4, 64, 64) and int(b.state_dict()["pattern_seed"]) == 3


def test_block_sparse_info_and_subclassing():
    b = sparse.BlockSparseRingDilatedAttention(*LISTS, {"pattern_type": "dilated_sparse", "block_size": 16})
    out, info = b(*QKV, return_attention_weights=True)
    assert info["shape"] == (4, 4) and info["block_size"] == 16 and info["values"] is None
    assert info["indices"].shape[0] == 2
    assert issubclass(sparse.BlockSparseRingDilatedAttentionHilbertPostPattern, sparse.BlockSparseRingDilatedAttention)
    assert issubclass(sparse.BlockSparseAdaptiveFixed, dap.BlockSparseAdaptive)
    assert issubclass(dap.BlockSparseAdaptive, sparse.BlockSparseRingDilatedAttention)
    mh = dap.BlockSparseRingMultiheadDilatedAttention(32, 4, *LISTS, batch_first=False)
    y = torch.randn(64, 2, 32)
    assert mh(y, y, y).shape == (64, 2, 32)
    mh._always_return_tuple = True
    assert mh(y, y, y)[1] is None


def test_lazy_adaptive_materialises_from_checkpoint_and_keeps_eval():
    src = dap.BlockSparseAdaptive([16], [1], num_heads=4, head_dim=8,
                                  adaptive_config=dap.AdaptiveConfig(hidden_dim=16), block_size=16)
    lazy = sparse.BlockSparseAdaptiveFixed([16], [1], block_size=16).eval()
    assert repr(lazy) == "BlockSparseAdaptive(uninitialized)"
    lazy.load_state_dict(src.state_dict())
    assert not lazy.training
    src.eval()
    torch.testing.assert_close(lazy(*QKV), src(*QKV))
