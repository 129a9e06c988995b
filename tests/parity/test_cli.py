"""``ringlib parity`` on the command line: table, JSON, JUnit and the exit code."""

import json
import xml.etree.ElementTree as ET

from typer.testing import CliRunner

from ringlib.backends import strided
from ringlib_cli.app import app

runner = CliRunner()
ARGS = ["parity", "--names", "RingDilatedAttentionFixedSimple", "--dtype", "float32,float64"]


def test_passing_run_writes_json_and_junit(tmp_path):
    result = runner.invoke(app, [*ARGS, "--json", str(tmp_path / "p.json"), "--junit", str(tmp_path / "p.xml")])
    assert result.exit_code == 0, result.output
    assert "parity OK" in result.output
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["ok"] and data["meta"]["dtypes"] == ["float32", "float64"]
    assert {r["check"] for r in data["results"]} >= {"bitwise", "backend"}
    suites = ET.parse(tmp_path / "p.xml").getroot()
    assert suites.get("failures") == "0" and int(suites.get("tests")) == len(data["results"])


def test_failure_exits_1_and_is_in_junit(tmp_path, monkeypatch):
    original = strided.attention
    monkeypatch.setattr(strided, "attention", lambda *a, **kw: original(*a, **kw) * 1.01)
    result = runner.invoke(app, [*ARGS, "--junit", str(tmp_path / "p.xml")])
    assert result.exit_code == 1, result.output
    suites = ET.parse(tmp_path / "p.xml").getroot()
    assert int(suites.get("failures")) > 0
    assert suites.find(".//failure") is not None


def test_bad_dtype_exits_2():
    result = runner.invoke(app, ["parity", "--dtype", "float8"])
    assert result.exit_code == 2


def test_unknown_name_is_an_error():
    result = runner.invoke(app, ["parity", "--names", "NoSuchAttention"])
    assert result.exit_code == 1
