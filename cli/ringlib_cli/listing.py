"""``ringlib list``: the legacy names and what replaced them, from the registry."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table


def list_names(
    as_json: bool = typer.Option(False, "--json", help="Print the registry as JSON."),
    all_names: bool = typer.Option(
        False, "--all", help="Also list companions (helpers, configs) besides the counted names."),
) -> None:
    """List the old names, their replacements, numerics policy and profile."""
    from ringlib.registry import LEGACY_NAMES

    entries = [e for e in LEGACY_NAMES if all_names or e.counted]
    if as_json:
        rows = [{
            "name": e.name, "key": e.key, "kind": e.kind, "family": e.family,
            "section": e.section, "paths": list(e.paths), "replacement": e.replacement,
            "numerics": e.numerics, "profile": e.profile,
            "rewrites": sorted(e.rewrites), "counted": e.counted,
        } for e in entries]
        typer.echo(json.dumps(rows, indent=2))
        return
    console = Console(soft_wrap=False)
    if not console.is_terminal:  # a pipe or a file: whole names, one line each, tab-separated
        typer.echo("old name\treplacement\tnumerics\tprofile")
        for e in entries:
            typer.echo("\t".join((e.name, e.replacement, e.numerics, e.profile)))
        return
    table = Table(title=f"dilated_attention_pytorch 0.2 -> ringlib ({len(entries)} names)")
    table.add_column("old name", style="bold")
    table.add_column("replacement")
    table.add_column("numerics")
    table.add_column("profile")
    for e in entries:
        table.add_row(e.name, e.replacement, e.numerics, e.profile)
    console.print(table)
