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


def test_list_name_prints_the_whole_entry(fake_registry) -> None:
    """A pip user has no MIGRATION.md: ``ringlib list NAME`` prints the entry the warning points to."""
    entry = next(e for e in fake_registry if e.divergences and e.params and e.rewrites)
    result = runner.invoke(app, ["list", entry.paths[0]])
    assert result.exit_code == 0, result.output
    for text in (entry.replacement, entry.numerics, entry.profile, *(p.name for p in entry.params),
                 *(d.measured for d in entry.divergences), *(f"--semantics {m}" for m in entry.rewrites)):
        assert text in result.output
    assert entry.rewrites["preserve"].target + "(" in result.output  # the argument map, as a call
    assert f"ringlib list {entry.key}" in entry.message


def test_list_unknown_name_fails(fake_registry) -> None:
    result = runner.invoke(app, ["list", "NoSuchAttention"])
    assert result.exit_code == 1


def test_version() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"ringlib {version('ringlib')}"


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
