"""``ringlib list`` and the lazy subcommand hook."""

import json
import sys
import types

from typer.testing import CliRunner

from ringlib_cli import app as app_module
from ringlib_cli.app import app

runner = CliRunner()


def test_list_table_and_json(fake_registry) -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    assert "numerics" in result.output and "RingAttentionWrapper" in result.output
    rows = json.loads(runner.invoke(app, ["list", "--json", "--all"]).output)
    assert [r["name"] for r in rows] == [e.name for e in fake_registry]
    assert rows[0]["replacement"] == fake_registry[0].replacement


def test_lazy_subcommand_is_one_line(monkeypatch) -> None:
    module = types.ModuleType("ringlib_cli_fake_parity")

    def main(device: str = "cpu") -> None:
        """Fake parity."""
        print(f"parity on {device}")

    module.main = main
    monkeypatch.setitem(sys.modules, "ringlib_cli_fake_parity", module)
    monkeypatch.setattr(app_module.importlib.util, "find_spec",
                        lambda name: object() if name == "ringlib_cli_fake_parity" else None)
    monkeypatch.setitem(app_module.LAZY_COMMANDS, "fake-parity", "ringlib_cli_fake_parity:main")
    result = runner.invoke(app, ["fake-parity", "--device", "cuda"])
    assert result.exit_code == 0, result.output
    assert "parity on cuda" in result.output
    assert "fake-parity" in runner.invoke(app, ["--help"]).output


def test_cli_does_not_import_torch() -> None:
    import subprocess

    code = "import sys, ringlib_cli.app; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
