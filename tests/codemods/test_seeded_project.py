"""A seeded mini legacy project (``seeded_project/``), migrated with the default settings.

Before (through the shim) and after migration it computes bitwise-equal fp32 CPU outputs,
draws the same random numbers afterwards and has the same state_dict keys (old checkpoints
load strictly); a second run changes nothing; no file is refused; every old name left has a
``# ringlib-migrate:`` marker and every comment survives.
"""

import re
import runpy
import shutil
import sys
from pathlib import Path

import pytest

from ringlib_codemods import COMMENT_PREFIX, Options, run

PROJECT = Path(__file__).parent / "seeded_project"
MODULES = ("run", "ring_layers", "sparse_layers")

pytest.importorskip("dilated_attention_pytorch", reason="needs the shim (legacy/)")
torch = pytest.importorskip("torch")


def _run(root: Path):
    for name in MODULES:
        sys.modules.pop(name, None)
    sys.path.insert(0, str(root))
    try:
        return runpy.run_path(str(root / "run.py"), run_name="seeded")["main"]()
    finally:
        sys.path.remove(str(root))
        for name in MODULES:
            sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("seeded") / "project"
    shutil.copytree(PROJECT, root, ignore=shutil.ignore_patterns("__pycache__"))
    result = run([root], Options(jobs=1))
    assert result.exit_code == 0, [i.message for i in result.items if i.kind == "error"]
    assert result.count("changed") == 2
    return root


def test_outputs_random_stream_and_checkpoints_unchanged(migrated: Path) -> None:
    with pytest.warns(FutureWarning):
        before, old_state = _run(PROJECT)
    after, new_state = _run(migrated)
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key]), key
    assert list(old_state) == list(new_state)


def test_old_checkpoint_loads_strictly(migrated: Path) -> None:
    with pytest.warns(FutureWarning):
        _, old_state = _run(PROJECT)
    sys.path.insert(0, str(migrated))
    try:
        for name in MODULES:
            sys.modules.pop(name, None)
        import ring_layers

        ring_layers.Stack().load_state_dict(old_state, strict=True)
    finally:
        sys.path.remove(str(migrated))
        for name in MODULES:
            sys.modules.pop(name, None)


def test_second_run_changes_nothing_and_every_old_name_is_marked(migrated: Path) -> None:
    again = run([migrated], Options(jobs=1, mode="check"))
    assert again.exit_code == 0 and again.count("changed") == 0
    for file in migrated.glob("*.py"):
        text = file.read_text()
        compile(text, str(file), "exec")
        before = re.findall(r"#[^\n]*", (PROJECT / file.name).read_text())
        assert all(c in text for c in before), file  # comments move with the code
        for number, line in enumerate(text.splitlines()):
            if line.lstrip().startswith("#"):
                continue
            if "dilated_attention_pytorch" in line or "RingDilatedAttentionHilbertCore(" in line:
                above = text.splitlines()[:number]
                assert any(COMMENT_PREFIX in a for a in above[-3:]), (file, line)


def test_block_sparse_configs_became_pattern_values(migrated: Path) -> None:
    text = (migrated / "sparse_layers.py").read_text()
    assert "dilated_attention_pytorch" not in text and COMMENT_PREFIX not in text
    assert text.count("ringlib.BlockSparse(") == 7 + 2  # and one in each config-reading factory
    assert "SPARSE_CLASSES = {\n    \"block_sparse\": build_block_sparse_ring_dilated_attention," in text
