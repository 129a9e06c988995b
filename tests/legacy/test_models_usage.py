"""0.2 user code, as the old docstrings and README showed it, running through the shim."""

import copy
import io

import pytest
import torch



def test_multihead_like_nn_multiheadattention(quiet):
    from dilated_attention_pytorch import MultiheadDilatedAttention

    attention = MultiheadDilatedAttention(embed_dim=64, num_heads=4, dilation_rates=[1, 2], segment_lengths=[16, 32])
    x = torch.randn(2, 64, 64, requires_grad=True)
    out, weights = attention(x, x, x, is_causal=True, need_weights=True)
    assert out.shape == x.shape and weights is None
    out.sum().backward()
    assert attention.q_proj.weight.grad is not None and x.grad.abs().sum() > 0
    # causal: the first half of the output does not depend on the second half of the input
    y = x.detach().clone()
    y[:, 32:] += 1.0
    with torch.no_grad():
        a = attention(x.detach(), is_causal=True)
        b = attention(y, is_causal=True)
    torch.testing.assert_close(a[:, :32], b[:, :32])


def test_factory_examples_of_the_docstrings(quiet):
    from dilated_attention_pytorch import create_dilated_attention, create_multihead_dilated_attention

    attention = create_multihead_dilated_attention("improved", embed_dim=64, num_heads=4, dropout=0.1,
                                                   segment_lengths=[16, 32], dilation_rates=[1, 2])
    out, _ = attention.eval()(torch.randn(1, 32, 64))
    assert out.shape == (1, 32, 64)
    qkv = create_dilated_attention("improved", segment_lengths=[16, 32], dilation_rates=[1, 2], dropout=0.1)
    q = torch.randn(1, 32, 4, 16)
    assert qkv.eval()(q, q, q).shape == q.shape


def test_longnet_lm_training_step_and_checkpoint_roundtrip(quiet):
    from dilated_attention_pytorch.models.long_net import LongNetLM

    torch.manual_seed(0)
    model = LongNetLM(num_tokens=30, d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                      dim_feedforward=64, segment_lengths=[8, 16], dilation_rates=[1, 2])
    tokens = torch.randint(0, 30, (2, 32))
    logits = model(tokens)
    assert logits.shape == (2, 32, 30)
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 30), tokens[:, 1:].reshape(-1))
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    clone = LongNetLM(num_tokens=30, d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                      dim_feedforward=64, segment_lengths=[8, 16], dilation_rates=[1, 2])
    buffer.seek(0)
    clone.load_state_dict(torch.load(buffer, weights_only=True))
    torch.testing.assert_close(clone(tokens), model(tokens))


def test_encoder_layers_stack_and_deepcopy(quiet):
    from dilated_attention_pytorch import DilatedTransformerEncoderLayer

    layer = DilatedTransformerEncoderLayer(d_model=32, nhead=4, segment_lengths=[8, 16], dilation_rates=[1, 2],
                                           dim_feedforward=64, dropout=0.0, activation="gelu")
    stack = torch.nn.Sequential(layer, copy.deepcopy(layer)).eval()
    x = torch.randn(2, 16, 32)
    assert stack(x).shape == x.shape


def test_dynamic_attention_example(quiet):
    from dilated_attention_pytorch import DynamicMultiheadDilatedAttention

    attention = DynamicMultiheadDilatedAttention(embed_dim=32, num_heads=4)
    x = torch.randn(2, 48, 32)
    output, weights = attention(x, x, x)
    assert output.shape == x.shape and weights.shape == (2, 4, 48, 48)
    segments, rates = attention.get_current_configuration()
    assert 48 % max(segments) == 0 and rates[0] == 1


@pytest.mark.parametrize("path", ["dilated_attention_pytorch.base.multihead_dilated_attention",
                                  "dilated_attention_pytorch.multihead_dilated_attention",
                                  "dilated_attention_pytorch.core.factory",
                                  "dilated_attention_pytorch.dynamic_dilated_attention"])
def test_old_modules_import(path, quiet):
    import importlib

    module = importlib.import_module(path)
    assert module.__all__
