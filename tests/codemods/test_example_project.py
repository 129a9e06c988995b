"""The whole examples/legacy_project, migrated with the real registry, then executed.

Imports must resolve, modules must construct, and the outputs must equal those of the same
code running on the shim (``--semantics preserve`` builds exactly what the shim builds).
"""

import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ringlib_codemods import COMMENT_PREFIX, Options, run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "legacy_project"

pytest.importorskip("dilated_attention_pytorch", reason="needs the shim (legacy/)")
torch = pytest.importorskip("torch")


def _logits(root: Path):
    for name in [m for m in sys.modules if m == "legacy_app" or m.startswith("legacy_app.")]:
        del sys.modules[name]
    saved = list(sys.path)
    try:
        namespace = runpy.run_path(str(root / "scripts" / "run_tiny_lm.py"), run_name="example")
        return namespace["main"]()
    finally:
        sys.path[:] = saved
        for name in [m for m in sys.modules if m == "legacy_app" or m.startswith("legacy_app.")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("example") / "legacy_project"
    shutil.copytree(EXAMPLE, root)
    result = run([root], Options(jobs=1))
    assert result.exit_code == 0, [i.message for i in result.items if i.kind == "error"]
    assert result.count("changed") == 3
    return root


def test_migrated_project_has_no_old_names_left(migrated: Path) -> None:
    for file in migrated.rglob("*.py"):
        text = file.read_text()
        assert "import dilated_attention_pytorch" not in text and "from dilated_attention_pytorch" not in text, file
        assert COMMENT_PREFIX not in text, file
    again = run([migrated], Options(jobs=1, mode="check"))
    assert again.exit_code == 0 and again.count("changed") == 0


def test_migrated_project_computes_what_the_shim_computes(migrated: Path) -> None:
    with pytest.warns(FutureWarning):
        before = _logits(EXAMPLE)
    after = _logits(migrated)
    torch.testing.assert_close(after, before, rtol=0, atol=0)


def test_migrated_project_tests_pass(migrated: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-W", "error::FutureWarning", str(migrated / "tests")],
                          cwd=migrated, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
