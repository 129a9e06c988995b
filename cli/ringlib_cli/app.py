"""The ``ringlib`` typer application.

Subcommands that pull in heavy imports (torch) are registered lazily: ``LAZY_COMMANDS``
maps a name to ``"module:attribute"`` (a typer-annotated function or a ``typer.Typer``),
imported only when that subcommand runs or its help is shown, and only listed when the
module exists. Adding one is one line there.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import typer
from typer.core import TyperGroup

from ringlib_cli import listing, migrate

LAZY_COMMANDS: dict[str, str] = {
    "parity": "ringlib_cli.parity:main",
}


def _available(target: str) -> bool:
    module = target.split(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _load(name: str, target: str) -> Any:
    module_name, _, attr = target.partition(":")
    obj = getattr(importlib.import_module(module_name), attr or "app")
    if isinstance(obj, typer.Typer):
        return typer.main.get_command(obj)
    single = typer.Typer(add_completion=False)
    single.command(name)(obj)
    return typer.main.get_command(single)


class _LazyGroup(TyperGroup):
    """Lists lazy subcommands whose module exists; imports one only when it is used."""

    def list_commands(self, ctx) -> list[str]:
        names = list(super().list_commands(ctx))
        names += [n for n, t in LAZY_COMMANDS.items() if n not in names and _available(t)]
        return names

    def get_command(self, ctx, cmd_name: str):
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS and _available(LAZY_COMMANDS[cmd_name]):
            command = _load(cmd_name, LAZY_COMMANDS[cmd_name])
        return command


app = typer.Typer(
    cls=_LazyGroup,
    name="ringlib",
    help="ringlib: canonical dilated, block-sparse and ring attention, and the way off "
         "dilated_attention_pytorch 0.2.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"ringlib {version('ringlib')}")
        except PackageNotFoundError:  # running from a source tree that is not installed
            import ringlib

            typer.echo(f"ringlib {ringlib.__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the ringlib version and exit."),
) -> None:
    """ringlib: canonical dilated, block-sparse and ring attention, and the way off dilated_attention_pytorch 0.2."""


app.command("migrate")(migrate.migrate)
app.command("list")(listing.list_names)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
