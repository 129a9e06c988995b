"""The old base classes, models and dynamic attention reproduce recordings of the old code
(``record_models.py``; fp32 CPU, the tolerances of the golden data), load the old state_dicts
strictly and get the same seed-0 weights; names whose old code raised now build and run."""

import importlib
import warnings
from pathlib import Path

import pytest
import torch

import ringlib

RECORDINGS = Path(__file__).parent / "recordings" / "models"
FILES = sorted(RECORDINGS.glob("*.pt"))
RAN = [f.stem for f in FILES if "error" not in torch.load(f, weights_only=False)]
RAISED = [f.stem for f in FILES if f.stem not in RAN]


def _load(stem):
    return torch.load(RECORDINGS / f"{stem}.pt", weights_only=False)


def _shim(path):
    module, _, name = path.rpartition(".")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(importlib.import_module(module), name)


def _inputs(g, grad=True):
    return {k: v.float().requires_grad_(grad) if v.is_floating_point() else v for k, v in g["inputs"].items()}


def test_recordings_cover_every_name_and_stay_small():
    assert len(RAN) == 19 and len(RAISED) == 5
    assert sum(f.stat().st_size for f in FILES) < 3.2e6


@pytest.mark.parametrize("stem", RAN)
def test_shim_matches_the_old_code(stem, quiet):
    g = _load(stem)
    torch.manual_seed(0)
    module = _shim(g["import_path"])(*g["args"], **g["kwargs"])
    state = module.state_dict()
    for key, fp in g["init_fingerprint"].items():  # same parameters, same order, same seed-0 values
        assert list(state[key].shape) == fp["shape"], key
        assert state[key].double().sum().item() == pytest.approx(fp["sum"], rel=1e-5, abs=1e-5), key
        torch.testing.assert_close(state[key].flatten()[:8].double(), torch.tensor(fp["first"], dtype=torch.float64),
                                   rtol=1e-6, atol=1e-7)
    module.load_state_dict(g["state_dict"])  # strict: the old keys exactly
    module.eval()
    leaves = _inputs(g)
    result = module(*leaves.values(), **g["forward_kwargs"])
    assert isinstance(result, tuple) == g["returns_tuple"]
    out = result[0] if isinstance(result, tuple) else result
    torch.testing.assert_close(out, g["output"], rtol=1e-5, atol=1e-5)
    if g["extra_output"] is not None:
        extra = result[1]
        assert list(extra.shape) == g["extra_output"]["shape"]
        assert extra.min().item() == pytest.approx(g["extra_output"]["min"])
        assert extra.max().item() == pytest.approx(g["extra_output"]["max"])
    if g["config"]:
        assert list(module.get_current_configuration()) == g["config"]
    out.backward(g["grad_output"].float())
    floating = [k for k, v in g["inputs"].items() if v.is_floating_point()]
    assert sorted(g["grads"]) == sorted(floating), "every recorded name had a working backward"
    for key, expected in g["grads"].items():
        torch.testing.assert_close(leaves[key].grad[0:1], expected.float(), rtol=1e-3, atol=2e-5)
        assert leaves[key].grad[1:].abs().max() == 0


@pytest.mark.parametrize("stem", RAISED)
def test_names_whose_old_code_raised_now_run(stem, quiet):
    g = _load(stem)
    module = _shim(g["import_path"])(*g["args"], **g["kwargs"]).eval()
    leaves = _inputs(g, grad=False)
    result = module(*leaves.values(), **g["forward_kwargs"])
    out = result[0] if isinstance(result, tuple) else result
    first = next(iter(leaves.values()))
    assert out.shape == first.shape and torch.isfinite(out).all()


def test_head_parallel_is_the_base_dilated_attention(quiet):
    g = _load("DilatedAttention")
    q, k, v = _inputs(g, grad=False).values()
    head_parallel = _shim("dilated_attention_pytorch.base.HeadParallelDilatedAttentionOptimized")([16, 32], [1, 2])
    torch.testing.assert_close(head_parallel(q, k, v), g["output"], rtol=1e-5, atol=1e-5)


def test_factories_build_the_documented_classes(quiet):
    import dilated_attention_pytorch as dap

    improved = dap.create_multihead_dilated_attention("improved", embed_dim=64, num_heads=4,
                                                      segment_lengths=[16, 32], dilation_rates=[1, 2])
    assert type(improved).__name__ == "ImprovedMultiheadDilatedAttention"
    standard = dap.create_multihead_dilated_attention("standard", embed_dim=64, num_heads=4,
                                                      segment_lengths=[16, 32], dilation_rates=[1, 2], dropout=0.0)
    assert type(standard).__name__ == "MultiheadDilatedAttention"
    assert type(dap.create_dilated_attention("standard", [16, 32], [1, 2])).__name__ == "DilatedAttention"
    with pytest.raises(ValueError, match="Unknown attention type 'nope'"):
        dap.create_dilated_attention("nope")


def test_improved_intended_rewrite_is_the_documented_pattern(quiet):
    """The intended replacement attends over positions; the old class (preserved) did not."""
    g = _load("ImprovedDilatedAttention")
    q, k, v = _inputs(g, grad=False).values()
    intended = ringlib.DilatedAttention(ringlib.Dilated([16, 32], [1, 2], mixing="head_groups"))
    base = _load("DilatedAttention")
    torch.testing.assert_close(intended(q, k, v), base["output"], rtol=1e-5, atol=1e-5)
    assert (intended(q, k, v) - g["output"]).abs().max() > 0.5  # the measured 1.6 of the registry


def test_masks_are_not_silently_dropped(quiet):
    mha = _shim("dilated_attention_pytorch.MultiheadDilatedAttention")(64, 4, [1, 2], [16, 32])
    x = torch.randn(2, 32, 64)
    with pytest.warns(UserWarning, match="ignored"):
        mha(x, key_padding_mask=torch.zeros(2, 32, dtype=torch.bool))


def test_bad_sequence_length_names_the_rule(quiet):
    attention = _shim("dilated_attention_pytorch.DilatedAttention")([16, 32], [1, 2])
    q = torch.randn(1, 40, 4, 8)
    with pytest.raises(ValueError, match="divisible by the largest segment length"):
        attention(q, q, q)
