"""``ringlib list``: the legacy names and what replaced them, from the registry.

``ringlib list NAME`` prints the whole entry (the same text as its section of MIGRATION.md),
so the deprecation warnings can point a pip user, who has no MIGRATION.md, here.
"""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table


def list_names(
    name: Optional[str] = typer.Argument(
        None, help="An old name, registry key or dotted path: print its whole entry."),
    as_json: bool = typer.Option(False, "--json", help="Print the registry as JSON."),
    all_names: bool = typer.Option(
        False, "--all", help="Also list companions (helpers, configs) besides the counted names."),
    removed: bool = typer.Option(False, "--removed", help="List the old names and modules that were removed."),
) -> None:
    """List the old names, their replacements, numerics policy and profile."""
    from ringlib_legacy import registry

    if name is not None:
        _show(name)
        return
    if removed:
        _show_removed()
        return
    entries = [e for e in registry.LEGACY_NAMES if all_names or e.counted]
    if as_json:
        rows = [{
            "name": e.name, "key": e.key, "kind": e.kind, "family": e.family,
            "paths": list(e.paths), "replacement": e.replacement,
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
    typer.echo("`ringlib list NAME` prints the whole entry of one name.")


def _show(name: str) -> None:
    """Every entry ``name`` denotes, or its removal record; exit 1 when the registry has neither."""
    from ringlib_legacy import registry
    from ringlib_legacy.migration_doc import entry_text

    entries = registry.find(name)
    for i, entry in enumerate(entries):
        typer.echo(("\n" if i else "") + "\n".join(entry_text(entry, level=1)).rstrip())
    if entries:
        return
    gone = registry.removed(name) or registry.removed(f"{registry.ROOT}.{name}")
    if gone is not None:
        typer.echo(f"{gone.path}: removed; use {gone.use_instead}")
        return
    typer.echo(f"{name!r} is not an old name, key or dotted path of dilated_attention_pytorch 0.2", err=True)
    raise typer.Exit(1)


def _show_removed() -> None:
    from ringlib_legacy import registry

    table = Table(title="removed from dilated_attention_pytorch before or in 0.2 (not in the shim)")
    table.add_column("old path", style="bold")
    table.add_column("use instead")
    for record in registry.REMOVED:
        table.add_row(record.path, record.use_instead)
    for prefix in registry.REMOVED_MODULE_PREFIXES:
        table.add_row(f"{prefix}*", "ringlib (flat modules removed before 0.2)")
    Console(soft_wrap=False).print(table)
