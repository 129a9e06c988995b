"""Import paths, laziness and warnings of the shim (issue 5)."""

import importlib
import json
import subprocess
import sys
import warnings

import pytest

from ringlib_legacy import registry
from ringlib.deprecation import RinglibDeprecationWarning


def _run(code: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True, timeout=120)


def test_bare_import_is_lazy_and_silent():
    code = ("import sys, warnings\nwarnings.simplefilter('error')\nimport dilated_attention_pytorch\n"
            "heavy = [m for m in ('torch', 'triton', 'xformers', 'torchscale', 'deepspeed', 'fairscale', 'apex', "
            "'wandb') if m in sys.modules]\nprint(heavy)")
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]" and result.stderr == ""


def test_every_path_resolves_in_a_fresh_interpreter():
    """Each dotted path of the registry (nested, incidental, flat) gives its entry's object;
    aliases are identical; one name denoting two objects keeps them apart."""
    code = """
import importlib, json, warnings
warnings.simplefilter('ignore')
from ringlib_legacy import registry
seen, bad = {}, []
for entry in registry.LEGACY_NAMES:
    for path in entry.paths:
        if entry.kind == 'module':
            importlib.import_module(path)
            continue
        module, _, name = path.rpartition('.')
        obj = getattr(importlib.import_module(module), name)
        if entry.kind == 'object':  # plain values (True/False flags) may coincide
            continue
        if seen.setdefault(entry.key, obj) is not obj:
            bad.append(path)
distinct = len({id(o) for o in seen.values()}) == len(seen)
print(json.dumps({"bad": bad, "distinct": distinct, "n": len(seen)}))
"""
    result = _run(code)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["bad"] == [] and report["distinct"]


@pytest.mark.parametrize("module, name, says", [
    ("dilated_attention_pytorch.ring", "RingDilatedAttentionCorrect", "ringlib.compat.Regions"),
    ("dilated_attention_pytorch.models", "LongNet", "LongNet"),
    ("dilated_attention_pytorch.core.memory_pool", "UnifiedMemoryPool", "UnifiedMemoryPool"),
])
def test_from_import_warns_once_at_the_user_line(module, name, says):
    user_code = compile(f"import math\nfrom {module} import {name}\n", "user_code.py", "exec")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(user_code, {})
    ours = [w for w in caught if issubclass(w.category, RinglibDeprecationWarning)]
    assert len(ours) == 1
    assert (ours[0].filename, ours[0].lineno) == ("user_code.py", 2)
    assert "ringlib migrate" in str(ours[0].message)
    assert says in str(ours[0].message)


def test_attribute_access_warns_once_per_access():
    import dilated_attention_pytorch as dap

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = dap.ring.RingDilatedAttentionV3
        line = sys._getframe().f_lineno - 1
        second = dap.sparse.block_sparse_factory.BlockSparseAdaptive
    ours = [w for w in caught if issubclass(w.category, RinglibDeprecationWarning)]
    assert [w.lineno for w in ours] == [line, line + 2]
    assert all(w.filename == __file__ for w in ours)
    assert first.__name__ == "RingDilatedAttentionV3" and second.__name__ == "BlockSparseAdaptive"


def test_flat_and_nested_module_paths_give_the_same_objects(quiet):
    flat = importlib.import_module("dilated_attention_pytorch.ring_dilated_attention_correct")
    nested = importlib.import_module("dilated_attention_pytorch.ring.base.ring_dilated_attention_correct")
    assert flat.RingDilatedAttentionCorrect is nested.RingDilatedAttentionCorrect
    assert flat.RingAttentionWrapper is nested.RingAttentionWrapper
    import dilated_attention_pytorch.ring as ring

    assert ring.RingDilatedAttention is ring.RingDilatedAttentionProduction is ring.RingDilatedAttentionCorrect


def test_warning_is_an_error_under_W_error():
    result = _run("from dilated_attention_pytorch import BlockSparseRingDilatedAttention", "-W",
                  "error::FutureWarning")
    assert result.returncode != 0 and "RinglibDeprecationWarning" in result.stderr


def test_import_form_module_import_then_use():
    code = ("import warnings\nwarnings.simplefilter('always')\n"
            "import dilated_attention_pytorch.ring.hilbert.ring_dilated_attention_hilbert_proper as m\n"
            "cls = m.RingDilatedAttentionHilbertProper\n")
    result = _run(code)
    assert result.returncode == 0
    assert result.stderr.count("RinglibDeprecationWarning") == 1 and "<string>:4" in result.stderr


@pytest.mark.parametrize("path", ["dilated_attention_pytorch.ring_dilated_attention_v2_collective",
                                  "dilated_attention_pytorch.ring_dilated_attention_hybrid_optimized",
                                  "dilated_attention_pytorch.improved_dilated_attention_v2"])
def test_removed_flat_modules_point_to_migration(path):
    with pytest.raises(ModuleNotFoundError, match="ringlib list --removed"):
        importlib.import_module(path)


def test_removed_names_say_what_to_use():
    import dilated_attention_pytorch as dap

    with pytest.raises(AttributeError, match="ringlib.MultiheadDilatedAttention"):
        dap.RingDilatedAttentionV2  # noqa: B018
    with pytest.raises(ImportError, match="removed"):
        from dilated_attention_pytorch import RingDilatedAttentionProduction  # noqa: F401
    with pytest.raises(AttributeError):
        dap.NoSuchName  # noqa: B018


def test_dir_and_all_list_old_names(quiet):
    import dilated_attention_pytorch as dap
    import dilated_attention_pytorch.ring as ring

    assert set(registry.MODULE_ALL["dilated_attention_pytorch.ring"]) == set(ring.__all__)
    assert "ring" in dir(dap) and "RingDilatedAttentionHilbertGPUOptimized" in dir(dap)
    assert "RingDilatedAttention" not in dir(dap)
