"""``ringlib`` behaves like the command-line tools people know (ruff, black)."""

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
MANUAL = textwrap.dedent("""\
    from dilated_attention_pytorch.ring import RingAttentionWrapper

    w = RingAttentionWrapper(512, 8, [2048], [1])
""")
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "model.py").write_text(OLD)
    return tmp_path


def test_version() -> None:
    from importlib.metadata import version

    result = invoke("--version")
    assert result.exit_code == 0 and result.output.strip() == f"ringlib {version('ringlib')}"


def test_list_in_a_pipe_prints_whole_names(fake_registry) -> None:
    lines = invoke("list").output.splitlines()
    long = max((e for e in fake_registry if e.counted), key=lambda e: len(e.name) + len(e.replacement))
    assert f"{long.name}\t{long.replacement}\t" in "\n".join(lines)
    assert not any(ch in invoke("list").output for ch in "│┃━…")


def test_help_shows_metavars_and_exit_codes() -> None:
    text = invoke("migrate", "--help").output
    assert "<bool>" not in text and "<list[" not in text and "<int" not in text
    assert "PATH" in text and "FILE" in text and " N " in text
    for code, meaning in (("0", "nothing to do"), ("1", "--check: files would change"),
                          ("2", "errors"), ("130", "interrupted")):
        assert f" {code} " in text and meaning in text
    assert "--strict" in text


@pytest.mark.parametrize("bad", ["missing-dir/report.json", "."])
def test_bad_report_path_fails_before_writing(project: Path, bad: str) -> None:
    result = invoke("migrate", str(project), "--report", str(project / bad))
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("error: --report")
    assert (project / "model.py").read_text() == OLD


def test_missing_path_fails_before_writing(project: Path) -> None:
    result = invoke("migrate", str(project / "model.py"), str(project / "nope.py"))
    assert result.exit_code == 2
    assert result.output.strip() == f"error: no such file or directory: {project / 'nope.py'}"
    assert (project / "model.py").read_text() == OLD


def test_bad_select_fails_before_writing(project: Path) -> None:
    result = invoke("migrate", str(project), "--select", "NoSuchName")
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert (project / "model.py").read_text() == OLD


def test_read_only_file_is_an_error_and_left_alone(project: Path) -> None:
    path = project / "model.py"
    os.chmod(path, 0o444)
    report = project / "r.json"
    result = invoke("migrate", str(project), "--jobs", "1", "--report", str(report))
    assert result.exit_code == 2
    assert "read-only" in result.output
    assert path.read_text() == OLD and os.stat(path).st_mode & 0o777 == 0o444
    assert "references rewritten: 0" in result.output
    data = json.loads(report.read_text())
    assert data["written"] == [] and not [i for i in data["items"] if i["kind"] == "rewritten"]


def test_summary_lists_written_files_and_scanned_counts_files(project: Path) -> None:
    (project / "clean.py").write_text("import os\n")
    result = invoke("migrate", str(project), "--jobs", "1")
    assert result.exit_code == 0
    assert f"written: {project / 'model.py'}" in result.output
    assert "files scanned: 2" in result.output and "files changed: 1" in result.output


def test_strict_check_fails_while_old_names_remain(project: Path) -> None:
    (project / "wrap.py").write_text(MANUAL)
    assert invoke("migrate", str(project), "--check", "--strict").exit_code == 1
    assert invoke("migrate", str(project)).exit_code == 0  # rewrites what it can, comments the rest
    assert "# ringlib-migrate:" in (project / "wrap.py").read_text()
    assert invoke("migrate", str(project), "--check").exit_code == 0
    strict = invoke("migrate", str(project), "--check", "--strict")
    assert strict.exit_code == 1 and "old names remaining (--strict): 2" in strict.output
    (project / "wrap.py").write_text("import ringlib\n")
    assert invoke("migrate", str(project), "--check", "--strict").exit_code == 0


def test_diff_has_no_colour_off_a_terminal(project: Path) -> None:
    result = invoke("migrate", str(project), "--diff")
    assert result.exit_code == 0 and "-attn = " in result.stdout and "\x1b[" not in result.stdout


def test_diff_colour_helper_marks_lines() -> None:
    from ringlib_cli.migrate import _colored

    text = _colored("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n same\n")
    assert "\x1b[31m-old\x1b[0m" in text and "\x1b[32m+new\x1b[0m" in text and " same\n" in text
