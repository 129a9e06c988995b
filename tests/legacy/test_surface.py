"""The shim offers every public name of 0.2 with the same kind and signature.

``recordings/surface.json`` is the old package's surface, recorded from its own process by
``record_surface.py`` (module ``__all__`` lists, each public name's kind, and its
``inspect.signature`` parameters with their defaults). The shim must match it name by name;
the names the registry removes must raise an error naming the replacement instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import warnings
from pathlib import Path

import pytest

from ringlib_legacy import registry

SNAPSHOT = json.loads((Path(__file__).parent / "recordings" / "surface.json").read_text())
MODULES = {m: e for m, e in SNAPSHOT["modules"].items() if "import_error" not in e}

#: Old names the shim does not yet match (issue 16, open): old name -> why. The test fails when one
#: of these starts to match (remove it here) or when any other name stops matching.
OPEN_GAPS: dict[str, str] = {
    **{f"{m}.{n}": "signature: extra or differing trailing parameters" for m, n in (
        ("dilated_attention_pytorch", "BlockSparseRingDistributedDilatedAttention"),
        ("dilated_attention_pytorch.sparse", "BlockSparseRingDistributedDilatedAttention"),
        ("dilated_attention_pytorch.sparse.block_sparse_ring_distributed_dilated_attention",
         "BlockSparseRingDistributedDilatedAttention"),
        ("dilated_attention_pytorch", "ImportanceScorer"),  # ringlib.adaptive.BlockScorer adds device, dtype
        ("dilated_attention_pytorch.sparse.block_sparse_adaptive", "ImportanceScorer"),
        ("dilated_attention_pytorch.core.memory_profiler", "AllocationEvent"),  # stack_trace gained a default
        ("dilated_attention_pytorch.core.numa_aware_pool", "NUMATopologyDetector"),  # gained root=
    )},
    **{f"{m}.{n}": "signature: tuple defaults where 0.2 had lists" for m, n in (
        ("dilated_attention_pytorch", "LongNet"), ("dilated_attention_pytorch.models", "LongNet"),
        ("dilated_attention_pytorch.models.long_net", "LongNet"),
        ("dilated_attention_pytorch.models.long_net", "LongNetLM"))},
    **{f"dilated_attention_pytorch.kernels.hilbert_attention_core.{n}": "missing: a raw Triton kernel"
       for n in ("hilbert_attention_kernel", "standard_attention_kernel")},
    "dilated_attention_pytorch.sparse.block_sparse_ring_dilated_attention.PersistentPatternCache": "missing",
    "dilated_attention_pytorch.utils.gpu_utils.gpu_detector": "missing: the module-level GPUDetector instance",
}


def _load_recorder():
    """``record_surface.py`` (standard library only): the shim is read exactly as the old package was."""
    spec = importlib.util.spec_from_file_location("record_surface", Path(__file__).with_name("record_surface.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_RECORDER = _load_recorder()
_kind, _signature = _RECORDER.kind_of, _RECORDER.signature_of


def _removed(module: str, name: str) -> bool:
    return registry.removed(f"{module}.{name}") is not None or registry.removed(module) is not None


def surface_gaps(module: str, entry: dict) -> list[str]:
    """Every way the shim's ``module`` differs from the recorded old one."""
    if registry.removed(module) is not None:
        with pytest.raises(ImportError, match="ringlib"):
            importlib.import_module(module)
        return []
    gaps = []
    mod = importlib.import_module(module)
    if "all" in entry and list(mod.__all__) != entry["all"]:
        gaps.append(f"{module}.__all__ differs: missing {sorted(set(entry['all']) - set(mod.__all__))}, "
                    f"extra {sorted(set(mod.__all__) - set(entry['all']))}, or order")
    for name, old in entry["names"].items():
        if _removed(module, name):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                obj = getattr(mod, name)
            except AttributeError as exc:
                gaps.append(f"{module}.{name}: missing ({exc})")
                continue
        if _kind(obj) != old["kind"]:
            gaps.append(f"{module}.{name}: kind {_kind(obj)}, was {old['kind']}")
        elif old["kind"] in ("class", "function") and old["signature"] is not None:
            new = _signature(obj)
            if new != old["signature"]:
                gaps.append(f"{module}.{name}: signature {new}, was {old['signature']}")
    return gaps


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_matches_the_old_surface(module):
    gaps = {g.partition(":")[0]: g for g in surface_gaps(module, MODULES[module])}
    expected = {name for name in OPEN_GAPS if name.rpartition(".")[0] == module}
    assert {k: v for k, v in gaps.items() if k not in expected} == {}
    assert expected <= set(gaps), f"now matching, drop from OPEN_GAPS: {sorted(expected - set(gaps))}"


def test_the_top_level_all_is_the_old_list():
    import dilated_attention_pytorch

    assert dilated_attention_pytorch.__all__ == MODULES["dilated_attention_pytorch"]["all"]
    assert len(set(dilated_attention_pytorch.__all__)) == 34  # 0.2 listed one name twice


def test_the_snapshot_covers_the_registry_modules():
    """Every old module with names in the snapshot is one the shim builds (or removes)."""
    paths = set(registry.module_paths())
    for module in MODULES:
        assert module in paths or registry.removed(module) is not None, module


def test_row_all_lists_add_nothing_to_the_old_lists():
    """Rows may name ``__all__`` entries of old packages; the layout's old lists already hold them."""
    from ringlib_legacy import layout

    for module in registry.ROW_MODULES:
        for package, names in getattr(module, "MODULE_ALL", {}).items():
            if package in layout.MODULE_ALL:
                assert set(names) <= set(layout.MODULE_ALL[package]), (module.__name__, package)
