"""``ringlib migrate`` through typer's CliRunner: every flag and every exit code."""

import json
import os
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ringlib_cli.app import app

OLD = textwrap.dedent("""\
    from dilated_attention_pytorch.ring import RingDilatedAttentionCorrect

    attn = RingDilatedAttentionCorrect(512, 8, [2048], [1])
""")
NEW_PRESERVE = "ringlib.compat.Regions([2048], [1]), ordering='snake')"
NEW_INTENDED = "ringlib.Dilated([2048], [1]), ordering='snake')"
CLEAN = "import os\n\nprint(os.sep)\n"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["migrate", *args], catch_exceptions=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "model.py").write_text(OLD)
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN)
    return tmp_path


def test_write_then_nothing_to_do(project: Path) -> None:
    result = invoke(str(project), "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert NEW_PRESERVE in (project / "pkg" / "model.py").read_text()
    assert (project / "pkg" / "clean.py").read_text() == CLEAN
    assert "files changed" in result.output
    again = invoke(str(project), "--check")
    assert again.exit_code == 0


def test_diff_writes_nothing(project: Path) -> None:
    result = invoke(str(project), "--diff")
    assert result.exit_code == 0
    assert "-attn = RingDilatedAttentionCorrect(512, 8, [2048], [1])" in result.stdout
    assert "+import ringlib" in result.stdout
    assert (project / "pkg" / "model.py").read_text() == OLD


def test_check_exits_1_while_changes_are_pending(project: Path) -> None:
    result = invoke(str(project), "--check")
    assert result.exit_code == 1
    assert (project / "pkg" / "model.py").read_text() == OLD


def test_diff_and_check_exclude_each_other(project: Path) -> None:
    assert invoke(str(project), "--diff", "--check").exit_code == 2


def test_syntax_error_is_an_error_and_the_rest_is_processed(project: Path) -> None:
    broken = project / "pkg" / "broken.py"
    broken.write_text("from dilated_attention_pytorch import x\ndef (:\n")
    result = invoke(str(project), "--jobs", "1")
    assert result.exit_code == 2
    assert "broken.py" in result.output and "syntax error" in result.output
    assert broken.read_text() == "from dilated_attention_pytorch import x\ndef (:\n"
    assert NEW_PRESERVE in (project / "pkg" / "model.py").read_text()


def test_unreadable_file_is_an_error(project: Path, monkeypatch) -> None:
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "model.py":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    result = invoke(str(project), "--jobs", "1")
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_missing_path_is_an_error(project: Path) -> None:
    assert invoke(str(project / "nope.py")).exit_code == 2


def test_semantics_intended_reports_the_numerical_change(project: Path) -> None:
    report = project / "report.json"
    result = invoke(str(project), "--semantics", "intended", "--report", str(report))
    assert result.exit_code == 0
    assert NEW_INTENDED in (project / "pkg" / "model.py").read_text()
    assert "numerical changes" in result.output
    items = json.loads(report.read_text())["items"]
    rewritten = [i for i in items if i["kind"] == "rewritten"]
    assert rewritten and "0.41 max-abs" in rewritten[0]["numerics"]


def test_select_and_ignore(project: Path) -> None:
    (project / "pkg" / "other.py").write_text(
        "from dilated_attention_pytorch import RingDilatedAttentionHilbertGPUOptimized as G\n"
        "g = G(512, 8, [2048], [1])\n")
    result = invoke(str(project), "--select", "RingDilatedAttentionHilbertGPUOptimized", "--diff")
    assert result.exit_code == 0
    assert "other.py" in result.stdout and "model.py" not in result.stdout
    result = invoke(str(project), "--ignore", "RingDilatedAttentionHilbertGPUOptimized,ring_attention",
                    "--diff")
    assert "other.py" not in result.stdout and "model.py" in result.stdout
    assert invoke(str(project), "--select", "NoSuchName").exit_code == 2


def test_exclude_glob_and_gitignore(project: Path) -> None:
    (project / "generated").mkdir()
    (project / "generated" / "old.py").write_text(OLD)
    (project / "vendor").mkdir()
    (project / "vendor" / "old.py").write_text(OLD)
    (project / ".gitignore").write_text("generated/\n")
    result = invoke(str(project), "--exclude", "vendor/*", "--jobs", "1")
    assert result.exit_code == 0
    assert (project / "generated" / "old.py").read_text() == OLD
    assert (project / "vendor" / "old.py").read_text() == OLD
    assert NEW_PRESERVE in (project / "pkg" / "model.py").read_text()


def test_jobs_runs_a_process_pool(project: Path) -> None:
    for i in range(6):
        (project / "pkg" / f"m{i}.py").write_text(OLD)
    report = project / "r.json"
    result = invoke(str(project), "--jobs", "2", "--report", str(report))
    assert result.exit_code == 0
    assert all(NEW_PRESERVE in (project / "pkg" / f"m{i}.py").read_text() for i in range(6))
    assert json.loads(report.read_text())["files"]["changed"] == 7


def test_report_lists_comments_and_notes(project: Path) -> None:
    (project / "pkg" / "wrap.py").write_text(
        "from dilated_attention_pytorch.ring import RingAttentionWrapper\n"
        "w = RingAttentionWrapper(512, 8, [2048], [1])\n")
    report = project / "report.json"
    result = invoke(str(project), "--report", str(report), "--jobs", "1")
    assert result.exit_code == 0
    data = json.loads(report.read_text())
    assert data["exit_code"] == 0 and data["semantics"] == "preserve" and data["mode"] == "write"
    comments = [i for i in data["items"] if i["kind"] == "comment"]
    assert any(i["path"].endswith("wrap.py") and i["line"] == 2 for i in comments)
    assert "left for a human" in result.output


def test_quiet_prints_only_errors(project: Path) -> None:
    result = invoke(str(project), "--quiet")
    assert result.exit_code == 0
    assert result.output == ""
    (project / "pkg" / "broken.py").write_text("import dilated_attention_pytorch\nx = (\n")
    result = invoke(str(project), "--quiet", "--check")
    assert result.exit_code == 2
    assert "broken.py" in result.output and "files changed" not in result.output


def test_pyproject_supplies_defaults(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.ringlib.migrate]\nsemantics = "intended"\nexclude = ["pkg/skip_*.py"]\njobs = 1\n')
    (project / "pkg" / "skip_me.py").write_text(OLD)
    result = invoke(str(project / "pkg"))
    assert result.exit_code == 0
    assert NEW_INTENDED in (project / "pkg" / "model.py").read_text()
    assert (project / "pkg" / "skip_me.py").read_text() == OLD
    # the command line wins over the file
    (project / "pkg" / "model.py").write_text(OLD)
    invoke(str(project / "pkg"), "--semantics", "preserve")
    assert NEW_PRESERVE in (project / "pkg" / "model.py").read_text()


def test_bad_pyproject_is_an_error(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.ringlib.migrate]\nsemantic = "intended"\n')
    result = invoke(str(project))
    assert result.exit_code == 2 and "unknown key" in result.output


def test_symlinks_are_reported_not_followed(project: Path) -> None:
    outside = project.parent / f"{project.name}-outside.py"
    outside.write_text(OLD)
    os.symlink(outside, project / "pkg" / "link.py")
    result = invoke(str(project), "--jobs", "1")
    assert result.exit_code == 0
    assert "symlink" in result.output
    assert outside.read_text() == OLD


def test_vendored_copy_of_the_old_package_is_left_alone(project: Path) -> None:
    vendored = project / "third_party" / "dilated_attention_pytorch"
    vendored.mkdir(parents=True)
    (vendored / "__init__.py").write_text("from .ring import RingDilatedAttentionCorrect\n")
    result = invoke(str(project), "--jobs", "1")
    assert result.exit_code == 0
    assert (vendored / "__init__.py").read_text() == "from .ring import RingDilatedAttentionCorrect\n"


def test_notebook_cell_by_cell(project: Path) -> None:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# old notebook"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["%matplotlib inline\n", "from dilated_attention_pytorch.ring import RingDilatedAttentionCorrect"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["attn = RingDilatedAttentionCorrect(512, 8, [2048], [1])\n", "!nvidia-smi"]},
    ]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = project / "demo.ipynb"
    path.write_text(json.dumps(notebook, indent=1))
    result = invoke(str(path))
    assert result.exit_code == 0, result.output
    new = json.loads(path.read_text())
    assert new["cells"][0] == cells[0]
    assert new["cells"][1]["source"] == ["%matplotlib inline\n", "import ringlib"]
    assert new["cells"][2]["source"][0].startswith("attn = ringlib.MultiheadDilatedAttention(")
    assert new["cells"][2]["source"][1] == "!nvidia-smi"
    assert invoke(str(path), "--check").exit_code == 0


def test_explicit_files_and_encodings(project: Path) -> None:
    path = project / "crlf.py"
    data = ("\ufeff# -*- coding: utf-8 -*-\r\n" + OLD.replace("\n", "\r\n") + "s = 'é'\r\n").encode()
    path.write_bytes(data)
    mode = 0o640
    os.chmod(path, mode)
    assert invoke(str(path)).exit_code == 0
    new = path.read_bytes()
    assert new.startswith(b"\xef\xbb\xbf# -*- coding") and b"\r\n" in new and b"\n" not in new.replace(b"\r\n", b"")
    assert "'é'" in new.decode("utf-8-sig")
    assert os.stat(path).st_mode & 0o777 == mode
    assert not list(project.glob(".crlf.py.*"))  # no temporary file left behind
