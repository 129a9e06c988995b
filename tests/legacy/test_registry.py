"""The registry: 24 counted names, consistent paths, rewrites that build what the shim builds."""

import warnings

import pytest
import torch

import ringlib
from ringlib_legacy import registry

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from dilated_attention_pytorch._impl import IMPLEMENTATIONS, resolve


def test_exactly_24_counted_names():
    counted = registry.counted()
    assert len(counted) == 24
    assert sum(e.numerics == "preserve" for e in counted) == 18
    assert {e.name for e in counted if e.numerics == "intended"} == {
        "RingDilatedAttentionHilbertCoreFixed", "RingDistributedDilatedAttention",
        "BlockSparseRingDistributedDilatedAttention", "RingAttentionFunction",
        "MemoryEfficientRingAttentionFunction", "StableRingAccumulator"}


def test_keys_and_paths_are_unique_and_implemented():
    keys = [e.key for e in registry.LEGACY_NAMES]
    assert len(keys) == len(set(keys))
    paths = [p for e in registry.LEGACY_NAMES for p in e.paths]
    assert len(paths) == len(set(paths))
    assert all(p.startswith("dilated_attention_pytorch.") for p in paths)
    assert {e.key for e in registry.LEGACY_NAMES if e.kind != "module"} == set(IMPLEMENTATIONS)


def test_no_removal_record_names_what_a_row_provides():
    """A path is either carried over (a row names it, or a module holding one) or removed."""
    provided = set(registry.module_paths()) | {p for e in registry.LEGACY_NAMES for p in e.paths}
    assert not [r.path for r in registry.REMOVED if r.path in provided]


def test_flat_paths_added_for_every_section_15_module():
    assert "dilated_attention_pytorch.ring_dilated_attention_correct.RingDilatedAttentionCorrect" in \
        registry.by_key()["RingDilatedAttentionCorrect"].paths
    modules = set(registry.module_paths())
    assert set(registry.FLAT_MODULES.values()) <= modules


def test_messages_name_the_replacement_and_the_command():
    for entry in registry.LEGACY_NAMES:
        assert "ringlib migrate" in entry.message and entry.replacement in entry.message


def test_classes_with_constructors_have_params_and_rewrites():
    for entry in registry.counted():
        if entry.kind == "class" and entry.family != "ring/utils":  # the ring/utils classes are not modules
            assert entry.params and set(entry.rewrites) == {"preserve", "intended"}, entry.name
            assert entry.divergences or entry.numerics == "preserve", entry.name


X_CASES = [
    ("RingDilatedAttentionCorrect", {"embed_dim": "32", "num_heads": "4", "segment_lengths": "[16, 32]",
                                     "dilation_rates": "[1, 2]", "device": "'cpu'"}),
    ("RingDilatedAttentionHilbertProper", {"embed_dim": "32", "num_heads": "4", "segment_lengths": "[32, 64]",
                                           "dilation_rates": "[1, 3]", "use_hilbert": "False"}),
    ("RingDilatedAttentionV3", {"embed_dim": "32", "num_heads": "4", "segment_lengths": "[16, 32]",
                                "dilation_rates": "[1, 2]", "device": "'cpu'"}),
    ("RingDilatedAttentionMemoryEfficient", {"embed_dim": "32", "num_heads": "4", "device": "'cpu'"}),
]


@pytest.mark.parametrize("name,values", X_CASES)
def test_preserve_rewrite_builds_what_the_shim_builds(name, values, quiet):
    entry = registry.by_key()[name]
    source = registry.render_call(entry, "preserve", values)
    canonical = eval(source, {"ringlib": ringlib, "torch": torch})  # noqa: S307 - our own registry data
    shim = resolve(name)(**{k: eval(v) for k, v in values.items()})  # noqa: S307
    canonical.load_state_dict(shim.state_dict())
    x = torch.randn(2, 96, 32)
    torch.testing.assert_close(canonical(x), shim(x), rtol=0, atol=0)


def test_strided_keys_rewrite_matches(quiet):
    entry = registry.by_key()["RingDilatedAttentionHilbertOptimizedFixed"]
    values = {"dim": "128", "segment_lengths": "[64, 128]", "dilation_rates": "[1, 2]"}
    canonical = eval(registry.render_call(entry, "preserve", values), {"ringlib": ringlib})  # noqa: S307
    shim = resolve(entry.key)(dim=128, segment_lengths=[64, 128], dilation_rates=[1, 2])
    q, k, v = torch.randn(3, 1, 256, 4, 8).unbind(0)
    torch.testing.assert_close(canonical(q, k, v), shim(q, k, v), rtol=0, atol=0)
