"""Old checkpoints load into the module each name's rewrite builds, through the registry's key map.

For every row with a key map: the shim class is built (seeded), its ``state_dict`` taken, the
preserve rewrite built by the codemod's own interpreter (``ringlib_parity.recipe``, what
``ringlib migrate`` writes), a fresh-seeded replacement loaded through
``load_legacy_state_dict`` (strict), and both run on the same float32 input: outputs must be
bit-identical where the registry says ``equal``. Where the registry says a checkpoint cannot
load or the numbers differ, the test measures that too, and the codemod must flag the site.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from ringlib_legacy import registry
from ringlib_legacy.checkpoints import CheckpointError, load_legacy_state_dict, map_state_dict
from ringlib_parity import recipe
from ringlib_parity.matrix import Shape
from ringlib_parity.runner import _shim_object
from ringlib_parity.subjects import call, make_inputs, tensor_roles

SHAPE = Shape(batch=2, seq=128, heads=2, head_dim=16)
VALUES = {"embed_dim": SHAPE.embed_dim, "dim": SHAPE.embed_dim, "num_heads": SHAPE.heads, "heads": SHAPE.heads,
          "head_dim": SHAPE.head_dim, "segment_lengths": [32, 64], "dilation_rates": [1, 2]}
#: Rows whose key maps are not written yet (their row module is being reformatted separately).
PENDING_FAMILIES = ("dilated", "models", "core", "kernels", "utils")
MAPPED = [e for e in registry.LEGACY_NAMES if e.checkpoint is not None]


def _kwargs(entry) -> dict:
    return {p.name: VALUES[p.name] for p in entry.params if p.name in VALUES}


def _shim(entry, seed: int):
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _shim_object(entry)(**_kwargs(entry)).eval()


def _replacement(entry, seed: int):
    torch.manual_seed(seed)
    module, _ = recipe.build(entry, _kwargs(entry), "preserve")
    return module.eval()


def test_every_class_with_state_has_a_key_map():
    missing = []
    for entry in registry.LEGACY_NAMES:
        if entry.kind != "class" or entry.family in PENDING_FAMILIES or "preserve" not in entry.rewrites:
            continue
        try:
            shim = _shim(entry, 0)
        except TypeError:  # needs arguments the old call sites always passed (configs): no checkpoint here
            continue
        if isinstance(shim, torch.nn.Module) and shim.state_dict() and entry.checkpoint is None:
            missing.append(entry.key)
    assert not missing, f"classes with parameters but no checkpoint key map: {missing}"


@pytest.mark.parametrize("entry", MAPPED, ids=[e.key for e in MAPPED])
def test_checkpoint_loads_into_the_replacement(entry):
    rules = entry.checkpoint
    shim = _shim(entry, 1)
    state = shim.state_dict()
    assert state, "a key map on a class without state"
    if not rules.loads:
        assert not entry.rewrites["preserve"].safe, "the codemod must flag a site whose checkpoint cannot load"
        with pytest.raises(CheckpointError, match="does not load"):
            load_legacy_state_dict(torch.nn.Module(), state, entry.key)
        try:  # a by-hand rewrite may need arguments no old call had (a layout): then there is nothing to load into
            replacement = _replacement(entry, 2)
        except (recipe.RecipeError, TypeError):
            return
        with pytest.raises(RuntimeError):  # where it builds, the checkpoint truly does not fit it
            replacement.load_state_dict(state, strict=True)
        return
    replacement = _replacement(entry, 2)  # another seed: every number must come from the checkpoint
    load_legacy_state_dict(replacement, state, entry.key)  # strict
    mapped = map_state_dict(state, rules)
    for key, value in replacement.state_dict().items():
        assert torch.equal(value, mapped[key]), key
    roles = tensor_roles(type(shim).forward)
    inputs = make_inputs(roles, "blhd", SHAPE, seed=3, dtype=torch.float32)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = call(shim, inputs, False, SHAPE)
        new = call(replacement, inputs, False, SHAPE)
    assert old.shape == new.shape
    if rules.equal:
        assert torch.equal(old, new), f"max difference {(old - new).abs().max().item():.3g}"  # bitwise
    else:
        assert not torch.equal(old, new), "the registry says the numbers differ, but they are equal"
        assert not entry.rewrites["preserve"].safe, "the codemod must flag a site whose numbers change"


def test_a_checkpoint_key_the_map_does_not_know_fails_loudly():
    entry = registry.find("RingAttentionWrapper")[0]
    state = dict(_shim(entry, 1).state_dict())
    state["attention.extra"] = torch.zeros(1)
    with pytest.raises(RuntimeError, match="extra"):
        load_legacy_state_dict(_replacement(entry, 2), state, "RingAttentionWrapper")


def test_a_name_without_state_is_named_in_the_error():
    with pytest.raises(CheckpointError, match="no entry with a checkpoint key map"):
        load_legacy_state_dict(torch.nn.Linear(1, 1), {}, "RingDilatedAttentionHilbertOptimizedFixed")


def test_fused_projection_rule_concatenates_in_order():
    from ringlib_legacy.schema import Concat, KeyMap

    q, k, v = (torch.full((2, 3), float(i)) for i in range(3))
    rules = KeyMap(concat=(Concat(("q.weight", "k.weight", "v.weight"), "qkv.weight"),), rename={"qkv.": "attn.qkv."})
    mapped = map_state_dict({"q.weight": q, "k.weight": k, "v.weight": v}, rules)
    assert list(mapped) == ["attn.qkv.weight"] and torch.equal(mapped["attn.qkv.weight"], torch.cat([q, k, v]))
