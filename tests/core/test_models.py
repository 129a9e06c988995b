"""ringlib.models: shapes, token-correct causal masking, argument checks, gradients, eval
determinism, the layer's definition on a dense pattern, xPos's definition and MAGNETO's gains."""

import math

import pytest
import torch
import torch.nn.functional as F

import ringlib
from ringlib.models import FeedForward, LongNet, LongNetLM, TransformerDecoderLayer, TransformerEncoderLayer, XPos

PATTERN = ringlib.Dilated([4, 8], [1, 2])
D, H, L = 16, 2, 16
SMALL = dict(num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=24)


def _x(*shape, seed=0, grad=False):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64,
                       requires_grad=grad)


def test_output_shapes_and_batch_first_false():
    torch.manual_seed(0)
    enc = TransformerEncoderLayer(D, H, PATTERN, dim_feedforward=24).double()
    dec = TransformerDecoderLayer(D, H, PATTERN, dim_feedforward=24).double()
    x, m = _x(3, L, D), _x(3, L, D, seed=1)
    assert enc(x).shape == dec(x, m).shape == (3, L, D)
    assert LongNet(D, H, PATTERN, **SMALL).double()(x).shape == (3, L, D)
    lm = LongNetLM(50, D, H, PATTERN, **SMALL).double()
    assert lm(torch.randint(0, 50, (3, L))).shape == (3, L, 50)
    seq_first = TransformerEncoderLayer(D, H, PATTERN, dim_feedforward=24, batch_first=False).double()
    seq_first.load_state_dict(enc.state_dict())
    enc.eval(), seq_first.eval()
    torch.testing.assert_close(seq_first(x.transpose(0, 1)).transpose(0, 1), enc(x), rtol=0, atol=0)


def _future_gradient(model_fn, x, t):
    """Gradient of the outputs at positions <= t with respect to every input."""
    out = model_fn(x)
    (grad,) = torch.autograd.grad(out[:, : t + 1].sum(), x)
    return grad


@pytest.mark.parametrize("build", ["encoder", "decoder", "long_net"])
def test_causal_outputs_do_not_see_later_tokens(build):
    torch.manual_seed(0)
    pattern = ringlib.Dilated([4, 8], [1, 2])
    if build == "encoder":
        model = TransformerEncoderLayer(D, H, pattern, dim_feedforward=24, dropout=0.0).double()
        run = {True: lambda x: model(x, is_causal=True), False: lambda x: model(x)}
    elif build == "decoder":
        model = TransformerDecoderLayer(D, H, pattern, dim_feedforward=24, dropout=0.0).double()
        run = {True: lambda x: model(x, x.flip(-1), tgt_is_causal=True, memory_is_causal=True),
               False: lambda x: model(x, x.flip(-1))}
    else:
        model = LongNet(D, H, pattern, **SMALL).double()
        run = {True: lambda x: model(x), False: lambda x: model(x, is_causal=False)}
    for t in (0, 5, 10):
        x = _x(2, L, D, seed=t, grad=True)
        causal = _future_gradient(run[True], x, t)
        assert torch.count_nonzero(causal[:, t + 1:]) == 0, "a causal output depends on a later token"
        assert torch.count_nonzero(causal[:, : t + 1]) > 0
        full = _future_gradient(run[False], x, t)
        assert torch.count_nonzero(full[:, t + 1:]) > 0, "without is_causal later tokens must count"


def test_language_model_logits_ignore_later_tokens_when_causal():
    torch.manual_seed(0)
    lm = LongNetLM(30, D, H, PATTERN, **SMALL).double().eval()
    tokens = torch.randint(0, 30, (2, L), generator=torch.Generator().manual_seed(1))
    changed = tokens.clone()
    changed[:, 9:] = (changed[:, 9:] + 1) % 30
    with torch.no_grad():
        a, b = lm(tokens), lm(changed)
        torch.testing.assert_close(a[:, :9], b[:, :9], rtol=0, atol=1e-12)
        assert (a[:, 9:] - b[:, 9:]).abs().max() > 1e-3
        c, d = lm(tokens, is_causal=False), lm(changed, is_causal=False)
        assert (c[:, :9] - d[:, :9]).abs().max() > 1e-3


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    lm = LongNetLM(30, D, H, PATTERN, **SMALL)
    tokens = torch.randint(0, 30, (2, L))
    loss = F.cross_entropy(lm(tokens)[:, :-1].flatten(0, 1), tokens[:, 1:].flatten())
    loss.backward()
    for name, p in lm.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_eval_is_deterministic_and_training_uses_dropout():
    torch.manual_seed(0)
    model = LongNet(D, H, PATTERN, dropout=0.3, **SMALL)
    x = torch.randn(2, L, D)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_encoder_layer_on_a_dense_pattern_is_the_magneto_layer():
    """The definition, written out with torch's dense attention (float64)."""
    torch.manual_seed(0)
    layer = TransformerEncoderLayer(D, H, ringlib.Dense(), dim_feedforward=24, activation="gelu").double().eval()
    for p in layer.parameters():  # biases and LayerNorm affine parameters away from 0 / 1: they must be used
        if p.dim() == 1:
            torch.nn.init.normal_(p, std=0.5)
    x = _x(2, L, D)
    a, f = layer.self_attn, layer.feedforward

    def heads(t):
        return t.unflatten(-1, (H, D // H)).transpose(1, 2)

    h = layer.self_attn_norm(x)
    q, k, v = a.q_norm(a.q_proj(h)), a.k_norm(a.k_proj(h)), a.v_proj(h)
    att = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), is_causal=True).transpose(1, 2).flatten(-2)
    y = x + a.out_proj(a.out_norm(att))
    z = layer.feedforward_norm(y)
    expected = y + f.linear2(f.sub_norm(F.gelu(f.linear1(z))))
    torch.testing.assert_close(layer(x, is_causal=True), expected, rtol=0, atol=1e-12)


def test_xpos_rotates_and_scales_each_feature_pair_by_its_position():
    dim, n, base = 8, 5, 16.0
    x = _x(1, n, dim)
    out = XPos(dim, scale_base=base, dtype=torch.float64)(x)
    i = torch.arange(dim // 2, dtype=torch.float64)
    theta = 10000.0 ** (-2 * i / dim)
    zeta = (2 * i + 0.4 * dim) / (1.4 * dim)
    for pos in range(n):
        centred = pos - math.ceil(n / 2)
        angle, gain = pos * theta, zeta ** (centred / base)
        a, b = x[0, pos, 0::2], x[0, pos, 1::2]
        exact = {"rtol": 0, "atol": 1e-13}
        torch.testing.assert_close(out[0, pos, 0::2], gain * (a * torch.cos(angle) - b * torch.sin(angle)), **exact)
        torch.testing.assert_close(out[0, pos, 1::2], gain * (b * torch.cos(angle) + a * torch.sin(angle)), **exact)
    assert "scale" in XPos(dim).state_dict()


def test_magneto_gains_of_the_initialisation():
    torch.manual_seed(0)
    model = LongNet(64, 4, PATTERN, num_encoder_layers=3, num_decoder_layers=6, dim_feedforward=256)
    encoder_gain = math.sqrt(math.log(18) * math.log(6) / 3)
    decoder_gain = math.sqrt(math.log(18))

    def gain(linear):
        out_features, in_features = linear.weight.shape
        return linear.weight.std().item() / math.sqrt(2 / (in_features + out_features))

    for layer, expected in ((model.encoder_layers[0], encoder_gain), (model.decoder_layers[-1], decoder_gain)):
        for linear in (layer.self_attn.v_proj, layer.self_attn.out_proj, layer.feedforward.linear1,
                       layer.feedforward.linear2):
            assert gain(linear) == pytest.approx(expected, rel=0.1)
        assert gain(layer.self_attn.q_proj) == pytest.approx(1.0, rel=0.1)
    assert not torch.equal(model.encoder_layers[0].feedforward.linear1.weight,
                           model.encoder_layers[1].feedforward.linear1.weight), "layers must be drawn independently"
    assert model.decoder_layers[0].self_attn.q_norm is not None


@pytest.mark.parametrize("build, error, match", [
    (lambda: TransformerEncoderLayer(16, 3, PATTERN), ValueError, "divisible by nhead"),
    (lambda: TransformerEncoderLayer(16, 0, PATTERN), ValueError, "nhead must be >= 1"),
    (lambda: TransformerEncoderLayer(16.0, 2, PATTERN), TypeError, "d_model must be an int"),
    (lambda: TransformerEncoderLayer(16, 2, [4, 8]), TypeError, "pattern must be a ringlib pattern"),
    (lambda: TransformerEncoderLayer(16, 2, PATTERN, dropout=1.0), ValueError, r"dropout must be in \[0, 1\)"),
    (lambda: TransformerEncoderLayer(16, 2, PATTERN, activation="swish"), ValueError, "activation must be one of"),
    (lambda: TransformerEncoderLayer(16, 2, PATTERN, activation=3), TypeError, "activation must be a str or"),
    (lambda: TransformerEncoderLayer(16, 2, PATTERN, layer_norm_eps=0), ValueError, "layer_norm_eps must be"),
    (lambda: TransformerEncoderLayer(16, 2, PATTERN, gamma_init=float("nan")), ValueError, "gamma_init must be"),
    (lambda: TransformerEncoderLayer(16, 2, PATTERN, self_attn_norms=1), TypeError, "self_attn_norms must be a bool"),
    (lambda: TransformerDecoderLayer(16, 2, PATTERN, cross_attn_norms="no"), TypeError, "cross_attn_norms must be"),
    (lambda: FeedForward(16, 0), ValueError, "dim_feedforward must be >= 1"),
    (lambda: LongNet(16, 2, PATTERN, num_decoder_layers=0), ValueError, "num_decoder_layers must be >= 1"),
    (lambda: LongNetLM(0, 16, 2, PATTERN), ValueError, "vocab_size must be >= 1"),
    (lambda: XPos(7), ValueError, "dim must be even"),
])
def test_bad_constructor_arguments_are_named(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_bad_forward_inputs_are_named():
    torch.manual_seed(0)
    enc = TransformerEncoderLayer(D, H, PATTERN, dim_feedforward=24)
    dec = TransformerDecoderLayer(D, H, PATTERN, dim_feedforward=24)
    lm = LongNetLM(30, D, H, PATTERN, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=24)
    x = torch.randn(2, L, D)
    with pytest.raises(ValueError, match=r"src must have shape \(batch, seq, 16\)"):
        enc(torch.randn(2, L, D + 1))
    with pytest.raises(TypeError, match="src must be a floating-point tensor"):
        enc(torch.ones(2, L, D, dtype=torch.long))
    with pytest.raises(TypeError, match="is_causal must be a bool"):
        enc(x, is_causal=1)
    with pytest.raises(ValueError, match="memory must have the shape of tgt"):
        dec(x, torch.randn(2, L // 2, D))
    with pytest.raises(TypeError, match="tokens must be an integer tensor"):
        lm(torch.zeros(2, L))
    with pytest.raises(ValueError, match=r"tokens must lie in \[0, vocab_size=30\)"):
        lm(torch.full((2, L), 30))
    with pytest.raises(ValueError, match=r"tokens must have shape \(batch, seq\)"):
        lm(torch.zeros(2, L, 1, dtype=torch.long))


def test_layers_take_an_attention_core_where_they_take_a_pattern():
    """An attention core (here heads attending across each other) goes wherever a pattern goes:
    the layer's attention computes exactly what the core computes on the projected q, k, v."""
    torch.manual_seed(0)
    core = ringlib.compat.HeadAxis([8], [1])
    layer = TransformerEncoderLayer(16, 4, core, dim_feedforward=32).eval()
    x = torch.randn(2, 8, 16)
    attn = layer.self_attn
    q, k, v = (proj(layer.self_attn_norm(x)) for proj in (attn.q_proj, attn.k_proj, attn.v_proj))
    q, k = attn.q_norm(q), attn.k_norm(k)
    expected = ringlib.attention(*(t.unflatten(-1, (4, 4)) for t in (q, k, v)), core).flatten(-2)
    got = {}
    handle = attn.attention.register_forward_hook(lambda mod, args, out: got.setdefault("out", out))
    layer(x)
    handle.remove()
    torch.testing.assert_close(got["out"].flatten(-2), expected, rtol=0, atol=0)
