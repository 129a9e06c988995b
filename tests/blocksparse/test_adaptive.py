"""The adaptive module: legacy state_dict layout, exact block-sparse forward, a scorer that learns."""

import pytest
import torch

import ringlib
from ringlib.adaptive import AdaptiveBlockSparseAttention, legacy_top_k, select_adaptive


def _qkv(batch, n, heads, d, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, n, heads, d, generator=g).requires_grad_(requires_grad) for _ in range(3)]


def test_state_dict_keys_are_the_legacy_ones():
    m = AdaptiveBlockSparseAttention(3, 8, hidden_dim=16)
    keys = list(m.state_dict())
    assert keys[0] == "log_temperature" and len(keys) == 6 * 3 + 5
    assert "importance_scorer.head_networks.2.3.weight" in keys and "k_summary_proj.bias" in keys
    shared = AdaptiveBlockSparseAttention(3, 8, hidden_dim=16, share_across_heads=True, num_layers=3,
                                          learnable_temperature=False)
    assert [k for k in shared.state_dict() if "importance_net" in k] == [
        f"importance_scorer.importance_net.{i}.{p}" for i in (0, 2, 4, 6) for p in ("weight", "bias")]
    assert "log_temperature" in shared.state_dict() and "log_temperature" in dict(shared.named_buffers())


@pytest.mark.parametrize("normalization", ["softmax", "per_block_sum"])
@pytest.mark.parametrize("causal", [False, True])
def test_forward_is_block_sparse_attention_over_the_selected_blocks(normalization, causal):
    torch.manual_seed(0)
    m = AdaptiveBlockSparseAttention(2, 8, block_size=4, top_k=2, hidden_dim=8, normalization=normalization)
    q, k, v = _qkv(2, 24, 2, 8)
    for mode in (m.train, m.eval):
        mode()
        out, layout = m(q, k, v, is_causal=causal, return_layout=True)
        assert int(layout[0, 0, -1].sum()) == 2 and (not causal or int(layout[0, 0, 0].sum()) == 1)
        for b in range(2):
            pattern = ringlib.BlockSparse(layout[b], 4, normalization)
            ref = ringlib.attention(q[b:b + 1], k[b:b + 1], v[b:b + 1], pattern, causal=causal, backend="reference")
            torch.testing.assert_close(out[b:b + 1], ref.float(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("normalization, top_k, shared", [
    ("softmax", 1, False), ("softmax", 3, True), ("per_block_sum", 2, False)])
@pytest.mark.parametrize("causal", [False, True])
def test_every_scorer_parameter_gets_a_gradient(normalization, top_k, shared, causal):
    torch.manual_seed(1)
    m = AdaptiveBlockSparseAttention(2, 8, block_size=4, top_k=top_k, hidden_dim=8,
                                     normalization=normalization, share_across_heads=shared)
    q, k, v = _qkv(2, 32, 2, 8, requires_grad=True)
    out = m(q, k, v, is_causal=causal)
    (out * torch.randn_like(out)).sum().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().max() > 0, name
        assert torch.isfinite(p.grad).all(), name


def test_short_training_changes_the_selection_towards_a_teacher():
    """Synthetic task: imitate attention over a fixed layout (diagonal + block 0) that the
    scorer can only find through its block summaries (block indices are encoded in k)."""
    torch.manual_seed(0)
    bs, nb, d = 4, 8, 16
    n = bs * nb
    teacher_layout = torch.eye(nb, dtype=torch.bool)
    teacher_layout[:, 0] = True
    teacher = ringlib.BlockSparse(teacher_layout, bs)
    m = AdaptiveBlockSparseAttention(1, d, block_size=bs, top_k=2, hidden_dim=32)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    code = torch.zeros(n, d)
    code[torch.arange(n), torch.arange(n) // bs] = 4.0  # block index, visible in the summaries

    def batch(seed):
        q, k, v = _qkv(8, n, 1, d, seed)
        return q + code[None, :, None], k + code[None, :, None], v

    q0, k0, v0 = batch(10_000)
    m.eval()
    _, before = m(q0, k0, v0, return_layout=True)
    losses = []
    m.train()
    for step in range(60):
        q, k, v = batch(step)
        loss = (m(q, k, v) - ringlib.attention(q, k, v, teacher)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    m.eval()
    _, after = m(q0, k0, v0, return_layout=True)
    assert not torch.equal(before, after)
    hit = lambda layout: (layout & teacher_layout).sum().item() / layout.sum().item()  # noqa: E731
    assert hit(after) > hit(before) + 0.2
    assert sum(losses[-10:]) < 0.7 * sum(losses[:10])


def test_select_adaptive_legacy_rules():
    assert [legacy_top_k(8, s) for s in (0.9, 0.75, 0.5)] == [1, 2, 4]
    assert [legacy_top_k(16, s) for s in (0.9, 0.5)] == [1, 8]
    scores = torch.randn(1, 2, 6, 6)
    keep = select_adaptive(scores, base_sparsity=0.5, hard=False, temperature=1.0, training=False)
    top = scores[0].topk(3, -1).indices
    assert torch.equal(keep, torch.zeros_like(keep).scatter_(-1, top, True))  # batch 1: the top-k
    two = torch.randn(2, 1, 6, 6)
    sel = torch.zeros_like(two).scatter_(-1, two.topk(1, -1).indices, 1.0).bool()
    soft = select_adaptive(two, base_sparsity=0.9, hard=False, temperature=1.0, training=False)
    hard = select_adaptive(two, base_sparsity=0.9, hard=True, temperature=1.0, training=False)
    assert torch.equal(soft[0], sel[0, 0] | sel[1, 0])  # soft: union of the samples' choices
    inter = sel[0, 0] & sel[1, 0]
    assert torch.equal(hard[0], inter if inter.any() else torch.eye(6, dtype=torch.bool))


def test_select_adaptive_training_noise_comes_from_the_global_rng():
    scores = torch.zeros(2, 3, 5, 5)
    torch.manual_seed(5)
    a = select_adaptive(scores, base_sparsity=0.8, hard=False, temperature=1.0, training=True)
    torch.manual_seed(5)
    b = select_adaptive(scores, base_sparsity=0.8, hard=False, temperature=1.0, training=True)
    torch.manual_seed(5)
    u = [torch.rand(2, 5, 5) for _ in range(3)]  # the legacy stream: one draw per head
    noisy = torch.stack([-torch.log(-torch.log(x + 1e-10) + 1e-10) for x in u], 1)
    c = select_adaptive(noisy, base_sparsity=0.8, hard=False, temperature=1.0, training=False)
    assert torch.equal(a, b) and torch.equal(a, c)


def test_bad_arguments():
    with pytest.raises(ValueError, match="top_k"):
        AdaptiveBlockSparseAttention(2, 8, top_k=0)
    with pytest.raises(ValueError, match="selection must be one of"):
        AdaptiveBlockSparseAttention(2, 8, selection="per_batch")
    m = AdaptiveBlockSparseAttention(2, 8, block_size=4)
    q = torch.randn(1, 10, 2, 8)
    with pytest.raises(ValueError, match="divisible by block_size 4"):
        m(q, q, q)
    with pytest.raises(ValueError, match="heads|shape"):
        m(*(torch.randn(1, 8, 3, 8),) * 3)


@pytest.mark.parametrize("selection, causal", [("batch_threshold", False), ("batch_threshold", True),
                                               ("batch_majority", False)])
def test_batch_selection_is_one_threshold_layout_per_head_for_the_whole_batch(selection, causal):
    """The layout is recomputed here from the scores by the stated rule (not by select_adaptive),
    and the output is checked against the float64 reference over that layout."""
    torch.manual_seed(2)
    m = AdaptiveBlockSparseAttention(2, 8, block_size=4, top_k=2, hidden_dim=8, normalization="per_block_sum",
                                     selection=selection, temperature=0.5, learnable_temperature=False).eval()
    q, k, v = _qkv(3, 24, 2, 8, seed=4)
    out, layout = m(q, k, v, is_causal=causal, return_layout=True)
    with torch.no_grad():
        scores = m.block_scores(q, k)  # (B, H, nb, nb)
    onehot = torch.zeros_like(scores).scatter_(-1, scores.topk(2, dim=-1).indices, 1.0)
    if selection == "batch_threshold":
        keep = (0.9 * onehot + 0.1 * torch.softmax(scores / 0.5, dim=-1)).mean(0) > 0.1
    else:
        keep = onehot.sum(0) > 1.5  # chosen by 2 of the 3 samples
    assert keep.flatten(1).any(1).all()  # no head falls back to the diagonal here
    mask = keep & torch.ones(6, 6, dtype=torch.bool).tril() if causal else keep
    assert torch.equal(layout, mask.expand(3, -1, -1, -1))
    ref = ringlib.attention(q, k, v, ringlib.BlockSparse(keep, 4, "per_block_sum"), causal=causal,
                            backend="reference")
    torch.testing.assert_close(out, ref.float(), rtol=1e-5, atol=1e-6)
    assert not out.requires_grad  # a hard choice: no path from the output back to the scorer
