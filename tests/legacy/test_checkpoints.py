"""Old checkpoints load into the module each name's preserve rewrite builds, through the registry's key map.

The old checkpoints are recordings of 0.2 itself (``record_checkpoints.py``: ring and
block-sparse classes; ``record_models.py``: the base classes and models), made in a separate
process with the old source. For every row whose key map loads: the preserve rewrite is built by
the codemod's own interpreter (``ringlib_parity.recipe``, what ``ringlib migrate`` writes) from a
fresh seed, the old ``state_dict`` loaded through ``load_legacy_state_dict`` (strict), and run on
the recorded input: bit-identical to the shim on the same checkpoint, and, where the old forward
ran, the old output within the flash-attn rule (reference: the replacement in float64). Rows
whose class 0.2 could not build (``origin="shim"``) load a shim checkpoint instead. Where the
registry says a checkpoint cannot load, the loader says why and the codemod flags the site.
"""

from __future__ import annotations

import importlib
import inspect
import json
import warnings
from pathlib import Path

import pytest
import torch

from ringlib.testing import assert_close_to_reference
from ringlib_codemods import LegacyIndex, migrate_code
from ringlib_legacy import registry
from ringlib_legacy.checkpoints import CheckpointError, load_legacy_state_dict, map_state_dict
from ringlib_parity import recipe

RECORDINGS = Path(__file__).parent / "recordings"
CENSUS = json.loads((RECORDINGS / "checkpoints" / "census.json").read_text())
OLD = torch.load(RECORDINGS / "checkpoints" / "checkpoints.pt", weights_only=False)
#: Old checkpoints of the base classes, recorded by record_models.py (file stem per registry key)
MODEL_RECORDINGS = {
    "MultiheadDilatedAttention": ("MultiheadDilatedAttention", "MultiheadDilatedAttention_cross_causal"),
    "ImprovedMultiheadDilatedAttention": ("ImprovedMultiheadDilatedAttention", "ImprovedMultiheadDilatedAttention_cross"),
    "DynamicMultiheadDilatedAttention": ("DynamicMultiheadDilatedAttention",),
    **{key: (key,) for key in ("DilatedTransformerEncoderLayer", "DilatedTransformerDecoderLayer", "LongNet",
                               "LongNetLM")},
}
CLASSES = [e for e in registry.LEGACY_NAMES if e.kind == "class"]
LOADS = [e for e in CLASSES if e.checkpoint is not None and e.checkpoint.loads]
REFUSED = [e for e in CLASSES if e.checkpoint is not None and not e.checkpoint.loads]
SHIM_VALUES = {"embed_dim": 32, "num_heads": 2, "segment_lengths": [32, 64], "dilation_rates": [1, 2]}


def _quiet():
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("ignore")
    return ctx


def _shim_class(path: str):
    module, _, name = path.rpartition(".")
    ctx = _quiet()
    try:
        return getattr(importlib.import_module(module), name)
    finally:
        ctx.__exit__(None, None, None)


def _kwargs(entry, args, kwargs) -> dict:
    """The old call's arguments by name (positional ones bound to the row's parameters)."""
    names = [p.name for p in entry.params if not p.kind.startswith("var_")]
    return {**dict(zip(names, args)), **kwargs}


def _cases():
    """``(entry, case id, kwargs, state_dict, inputs, forward kwargs, old output or None)``."""
    for entry in LOADS:
        if entry.checkpoint.origin == "shim":
            kwargs = {k: v for k, v in SHIM_VALUES.items() if k in {p.name for p in entry.params}}
            torch.manual_seed(1)
            ctx = _quiet()
            shim = _shim_class(entry.paths[0])(**kwargs)
            ctx.__exit__(None, None, None)
            gen = torch.Generator().manual_seed(3)
            inputs = {n: torch.randn(1, 64, 32, generator=gen) for n in ("query", "key", "value")}
            yield entry, entry.key, kwargs, shim.state_dict(), inputs, {}, None
        elif entry.key in MODEL_RECORDINGS:
            for stem in MODEL_RECORDINGS[entry.key]:
                g = torch.load(RECORDINGS / "models" / f"{stem}.pt", weights_only=False)
                state = {k: v.float() if v.is_floating_point() else v for k, v in g["state_dict"].items()}
                inputs = {k: v.float() if v.is_floating_point() else v for k, v in g["inputs"].items()}  # tokens stay
                yield (entry, stem, _kwargs(entry, g["args"], g["kwargs"]), state, inputs, g["forward_kwargs"],
                       g["output"])
        else:
            g = OLD[entry.key]
            inputs = {k: v.float() for k, v in g["inputs"].items()}
            kwargs, first = dict(g["kwargs"]), next(iter(inputs.values()))
            names = {p.name for p in entry.params}
            if first.dim() == 4 and {"num_heads", "head_dim"} <= names - set(kwargs):  # a lazy class: from the input
                kwargs.update(num_heads=first.shape[2], head_dim=first.shape[3])
            yield entry, entry.key, kwargs, g["state_dict"], inputs, {}, g.get("output")


CASES = list(_cases())


def _run(module, inputs, forward_kwargs):
    with torch.no_grad():
        ctx = _quiet()
        try:
            names = list(inspect.signature(module.forward).parameters)
            if "is_causal" in forward_kwargs and "is_causal" not in names:
                raise AssertionError("causal case on a forward without is_causal")
            result = module(*inputs.values(), **forward_kwargs)
        finally:
            ctx.__exit__(None, None, None)
    return result[0] if isinstance(result, tuple) else result


def test_every_old_class_with_state_has_a_checkpoint_row():
    """The census of 0.2 (which classes hold parameters or buffers) against the registry."""
    assert {e.key for e in CLASSES} == set(CENSUS)
    lazy = {k for k, g in OLD.items() if CENSUS[k] == "no state" and g["state_dict"]}  # state made in forward
    for entry in CLASSES:
        found, rules = CENSUS[entry.key], entry.checkpoint
        if found == "state" or entry.key in lazy:
            assert rules is not None and rules.origin == "0.2", f"{entry.key}: 0.2 saved state, no key map"
        elif found.startswith("raised"):
            assert rules is None or rules.origin == "shim", f"{entry.key}: 0.2 never built one ({found})"
        else:
            assert rules is None, f"{entry.key}: a key map, but 0.2 held no state ({found})"


@pytest.mark.parametrize("case", CASES, ids=[c[1] for c in CASES])
def test_old_checkpoint_loads_into_the_preserve_rewrite(case):
    entry, _, kwargs, state, inputs, forward_kwargs, old = case
    rules = entry.checkpoint
    torch.manual_seed(2)  # another seed: every number must come from the checkpoint
    replacement, source = recipe.build(entry, kwargs, "preserve")
    replacement.eval()
    load_legacy_state_dict(replacement, state, entry.key)  # strict
    mapped = map_state_dict(state, rules)
    for key, value in replacement.state_dict().items():
        assert torch.equal(value, mapped[key]), key
    ctx = _quiet()
    shim = _shim_class(entry.paths[0])(**kwargs).eval()
    ctx.__exit__(None, None, None)
    shim.load_state_dict(state)
    new, ref = _run(replacement, inputs, forward_kwargs), _run(shim, inputs, forward_kwargs)
    assert new.shape == ref.shape
    if rules.equal:
        assert torch.equal(new, ref), f"{source}: max difference {(new - ref).abs().max().item():.3g}"  # bitwise
    else:
        assert not torch.equal(new, ref), "the registry says the numbers differ, but they are equal"
        assert not entry.rewrites["preserve"].safe, "the codemod must flag a site whose numbers change"
    if old is not None and entry.numerics == "preserve":
        exact = replacement.double()(*(t.double() if t.is_floating_point() else t for t in inputs.values()),
                                     **forward_kwargs)
        assert_close_to_reference(old, new, exact, what=f"0.2 output vs {source}")


FIRST_CALLS = [c for c in CASES if "first_output" in OLD.get(c[1], {})]


@pytest.mark.parametrize("case", FIRST_CALLS, ids=[c[1] for c in FIRST_CALLS])
def test_a_lazy_first_call_ran_in_training_mode_and_is_reproduced_on_its_random_stream(case):
    """0.2's lazy init re-ran ``nn.Module.__init__`` at the first call, which reset ``training``:
    recorded in eval(), that call drew Gumbel noise in the block selection (the gap to the eval
    output). Built from the recorder's seed, the replacement draws the same parameters and then,
    in training mode, the same noise: it gives that first call's numbers too."""
    entry, key, kwargs, state, inputs, _, old = case
    first = OLD[key]["first_output"]
    assert (first - old).abs().max() > 0.5, "the first call equals the eval output: no mode reset to explain"
    torch.manual_seed(0)  # the recorder's seed: the old lazy init drew the parameters, then the noise
    replacement, source = recipe.build(entry, kwargs, "preserve")
    for name, value in replacement.state_dict().items():
        assert torch.equal(value, state[name]), f"{name}: not the old parameter draw, the random stream differs"
    q, k, v = inputs.values()
    with torch.no_grad():
        new, layout = replacement.train()(q, k, v, return_layout=True)  # Gumbel noise from the global stream
        exact = replacement.double().attend_shared(q.double(), k.double(), v.double(), layout[0])
    assert_close_to_reference(first, new, exact, what=f"0.2's first call vs {source} in training mode")


@pytest.mark.parametrize("entry", REFUSED, ids=[e.key for e in REFUSED])
def test_a_checkpoint_that_cannot_load_is_explained_and_flagged(entry):
    with pytest.raises(CheckpointError, match="does not load"):
        load_legacy_state_dict(torch.nn.Module(), {}, entry.key)
    rewrite = entry.rewrites.get("preserve")
    assert rewrite is None or not rewrite.safe, "the codemod must not rewrite a site whose checkpoint cannot load"
    module, _, name = entry.paths[0].rpartition(".")
    result = migrate_code(f"from {module} import {name}\n\nx = {name}()\n", LegacyIndex.load(), path="/p/m.py")
    assert "# ringlib-migrate:" in result.code.split("x = ")[0].splitlines()[-1], result.code


def test_a_checkpoint_key_the_map_does_not_know_fails_loudly():
    entry, _, kwargs, state, *_ = next(c for c in CASES if c[0].key == "RingAttentionWrapper")
    state = {**state, "attention.extra": torch.zeros(1)}
    replacement, _ = recipe.build(entry, kwargs, "preserve")
    with pytest.raises(RuntimeError, match="extra"):
        load_legacy_state_dict(replacement, state, "RingAttentionWrapper")


def test_a_name_without_state_is_named_in_the_error():
    with pytest.raises(CheckpointError, match="no entry with a checkpoint key map"):
        load_legacy_state_dict(torch.nn.Linear(1, 1), {}, "RingDilatedAttentionHilbertOptimizedFixed")


def test_fused_projection_rules_concatenate_split_and_copy_in_order():
    from ringlib_legacy.schema import Concat, KeyMap, Split

    q, k, v = (torch.full((2, 3), float(i)) for i in range(3))
    rules = KeyMap(concat=(Concat(("q.weight", "k.weight", "v.weight"), "qkv.weight"),), rename={"qkv.": "attn.qkv."})
    mapped = map_state_dict({"q.weight": q, "k.weight": k, "v.weight": v}, rules)
    assert list(mapped) == ["attn.qkv.weight"] and torch.equal(mapped["attn.qkv.weight"], torch.cat([q, k, v]))
    rules = KeyMap(split=(Split("qkv.", ("q.", "k.", "v.")),), copy={"ln.": "out_ln."})
    mapped = map_state_dict({"qkv.weight": torch.cat([q, k, v]), "ln.bias": q}, rules)
    assert torch.equal(mapped["q.weight"], q) and torch.equal(mapped["v.weight"], v)
    assert torch.equal(mapped["ln.bias"], q) and torch.equal(mapped["out_ln.bias"], q)
    with pytest.raises(CheckpointError, match="equal parts"):
        map_state_dict({"qkv.weight": torch.zeros(4, 3)}, rules)


def test_a_star_in_a_prefix_stands_for_one_key_component_and_is_written_back_in_order():
    from ringlib_legacy.schema import KeyMap

    a, b = torch.zeros(1), torch.ones(1)
    rules = KeyMap(rename={"enc.layers.*.norm1.": "layers.*.attn_norm.", "enc.layers.*.": "layers.*."},
                   copy={"enc.layers.*.ln.": "layers.*.out_norm."}, drop=("enc.layers.*.unused.",))
    state = {"enc.layers.0.norm1.weight": a, "enc.layers.11.norm1.weight": b, "enc.layers.11.proj.bias": b,
             "enc.layers.3.unused.x": a, "enc.layers.3.ln.weight": a, "enc.layersX.0.norm1.weight": a}
    mapped = map_state_dict(state, rules)
    assert set(mapped) == {"layers.0.attn_norm.weight", "layers.11.attn_norm.weight", "layers.11.proj.bias",
                           "layers.3.ln.weight", "layers.3.out_norm.weight", "enc.layersX.0.norm1.weight"}
    assert mapped["layers.11.attn_norm.weight"] is b and mapped["layers.3.out_norm.weight"] is a
    with pytest.raises(ValueError, match="as many"):
        KeyMap(rename={"enc.layers.*.": "layers."})


def test_a_deeper_long_net_loads_layer_by_layer():
    """The recordings hold one layer per stack; a shim LongNet of 3 + 2 layers (each layer given its
    own weights) loads through the layer-index rules and computes the shim's numbers bit for bit."""
    entry = registry.find("LongNet")[0]
    kwargs = dict(d_model=32, nhead=2, num_encoder_layers=3, num_decoder_layers=2, dim_feedforward=48,
                  segment_lengths=[8, 16], dilation_rates=[1, 2])
    ctx = _quiet()
    shim = _shim_class(entry.paths[0])(**kwargs).eval()
    ctx.__exit__(None, None, None)
    gen = torch.Generator().manual_seed(7)
    state = {k: torch.randn(v.shape, generator=gen) for k, v in shim.state_dict().items()}
    shim.load_state_dict(state)
    replacement, source = recipe.build(entry, kwargs, "preserve")
    load_legacy_state_dict(replacement.eval(), state, "LongNet")
    x = torch.randn(2, 32, 32, generator=gen)
    with torch.no_grad():
        assert torch.equal(replacement(x), shim(x)), source


MODEL_ROWS = [e for e in CLASSES if e.family == "models"]


@pytest.mark.parametrize("entry", MODEL_ROWS, ids=[e.key for e in MODEL_ROWS])
def test_ringlib_migrate_rewrites_a_model_site_whose_code_then_loads_the_old_checkpoint(entry):
    """What a user runs: ``ringlib migrate`` on the old constructor call (the recorded one), the
    migrated code executed, the 0.2 checkpoint loaded through the registry's key map: the 0.2 output
    within the flash-attn rule, no site left for manual migration."""
    g = torch.load(RECORDINGS / "models" / f"{entry.key}.pt", weights_only=False)
    module, _, name = entry.paths[0].rpartition(".")
    call = ", ".join([*map(repr, g["args"]), *(f"{k}={v!r}" for k, v in g["kwargs"].items())])
    result = migrate_code(f"from {module} import {name}\n\nmodel = {name}({call})\n", LegacyIndex.load(),
                          path="/p/m.py")
    assert "# ringlib-migrate:" not in result.code and "ringlib.models." in result.code, result.code
    namespace: dict = {}
    torch.manual_seed(2)
    exec(compile(result.code, "<migrated>", "exec"), namespace)
    model = namespace["model"].eval()
    load_legacy_state_dict(model, {k: v.float() for k, v in g["state_dict"].items()}, entry.key)
    inputs = [v.float() if v.is_floating_point() else v for v in g["inputs"].values()]
    with torch.no_grad():
        new = model(*inputs, **g["forward_kwargs"])
        exact = model.double()(*(t.double() if t.is_floating_point() else t for t in inputs), **g["forward_kwargs"])
    assert_close_to_reference(g["output"], new, exact, what=f"0.2 output vs migrated {name}")
