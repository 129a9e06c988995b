"""``ringlib migrate``: rewrite a repository from dilated_attention_pytorch 0.2 to ringlib."""

from __future__ import annotations

import enum
import sys
from collections import Counter
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

MAX_ROWS = 40


class Semantics(str, enum.Enum):
    preserve = "preserve"
    intended = "intended"


def _names(values: Optional[List[str]]) -> tuple[str, ...]:
    """``--select A,B --select C`` -> (A, B, C)."""
    return tuple(n.strip() for v in values or () for n in v.split(",") if n.strip())


def migrate(
    paths: List[Path] = typer.Argument(..., help="Files or directories to migrate."),
    diff: bool = typer.Option(False, "--diff", help="Print a unified diff; write nothing."),
    check: bool = typer.Option(
        False, "--check", help="Write nothing; exit 1 when anything would change (CI, pre-commit)."),
    semantics: Optional[Semantics] = typer.Option(
        None, "--semantics",
        help="preserve: the numbers the old classes computed (what the shim builds; default). "
             "intended: the correct canonical semantics; the report lists each numerical change."),
    select: Optional[List[str]] = typer.Option(
        None, "--select", help="Only these legacy names (comma-separated or repeated)."),
    ignore: Optional[List[str]] = typer.Option(
        None, "--ignore", help="Leave these legacy names alone (comma-separated or repeated)."),
    exclude: Optional[List[str]] = typer.Option(
        None, "--exclude", help="Skip paths matching this glob (gitignore syntax; repeatable)."),
    jobs: Optional[int] = typer.Option(
        None, "--jobs", "-j", min=0, help="Worker processes (0: one per CPU, as far as there are files to keep them busy)."),
    report: Optional[Path] = typer.Option(
        None, "--report", help="Write every site, comment and error to this JSON file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print errors only."),
) -> None:
    """Rewrite old dilated_attention_pytorch imports and calls to ringlib, losslessly.

    Exit codes: 0 nothing to do or all done; 1 changes pending (--check); 2 errors (files
    that could not be read or parsed are listed; the others are still processed).
    """
    from ringlib_codemods import config as config_module
    from ringlib_codemods.index import SelectionError
    from ringlib_codemods.runner import EXIT_ERROR, Options, run

    console = Console(stderr=True)
    if diff and check:
        console.print("[red]error:[/] --diff and --check exclude each other")
        raise typer.Exit(EXIT_ERROR)
    try:
        pyproject = config_module.find_pyproject(paths)
        settings = config_module.load(pyproject) if pyproject else {}
    except config_module.ConfigError as error:
        console.print(f"[red]error:[/] {error}")
        raise typer.Exit(EXIT_ERROR) from None
    options = Options(
        semantics=(semantics.value if semantics else settings.get("semantics", "preserve")),
        mode="diff" if diff else "check" if check else "write",
        jobs=jobs if jobs is not None else settings.get("jobs", 0),
        select=_names(select) or tuple(settings.get("select", ())),
        ignore=_names(ignore) or tuple(settings.get("ignore", ())),
        exclude=tuple(settings.get("exclude", ())) + tuple(exclude or ()),
    )
    quiet = quiet or settings.get("quiet", False)
    report = report or (Path(settings["report"]) if "report" in settings else None)
    base = pyproject.parent if pyproject else None

    progress = Progress(
        TextColumn("[bold]ringlib migrate"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, auto_refresh=False, transient=True,
        disable=quiet or not console.is_terminal,
    )
    task = progress.add_task("files", total=None)

    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)
        progress.refresh()

    try:
        with progress:
            result = run(paths, options, on_progress=advance, base=base)
    except SelectionError as error:
        console.print(f"[red]error:[/] {error}")
        raise typer.Exit(EXIT_ERROR) from None

    if options.mode == "diff":
        for outcome in result.outcomes:
            if outcome.diff:
                sys.stdout.write(outcome.diff)
        sys.stdout.flush()
    if report is not None:
        result.write_report(report)
    _print(console, result, quiet)
    raise typer.Exit(result.exit_code)


def _print(console: Console, result, quiet: bool) -> None:
    items = result.items
    errors = [i for i in items if i.kind == "error"]
    for item in errors:  # plain lines, never cut by the terminal width
        console.print(f"{_where(item)}: error: {item.message}", markup=False, highlight=False,
                      soft_wrap=True)
    if quiet:
        return
    marked = [(_where(i), i.kind, i.message) for i in items if i.kind in ("comment", "skipped")]
    _print_table(console, "left for a human", ("where", "what", "reason"), marked)
    if result.options.semantics == "intended":
        changes = [(_where(i), i.name, i.numerics) for i in items if i.kind == "rewritten"]
        _print_table(console, "numerical changes (--semantics intended)", ("where", "name", "change"), changes)
    kinds = Counter(i.kind for i in items)
    mode = result.options.mode
    changed = "files changed" if mode == "write" else "files to change"
    summary = Table(title=f"ringlib migrate ({result.options.semantics}, {mode})",
                    title_justify="left", show_header=False)
    summary.add_column(justify="left")
    summary.add_column(justify="right")
    rows = [
        ("files scanned", len(result.outcomes) - result.count("skipped")),
        (changed, result.count("changed")),
        ("files without old names (pre-filter)", result.count("filtered")),
        ("files skipped (symlinks, copies of the old package)", result.count("skipped")),
        ("errors", result.count("error")),
        ("references rewritten", kinds["rewritten"]),
        ("references left with a ringlib-migrate comment", kinds["comment"]),
        ("notes (dropped arguments)", kinds["note"]),
    ]
    for label, value in rows:
        summary.add_row(label, str(value))
    console.print(summary)


def _print_table(console: Console, title: str, columns: tuple[str, str, str], rows: list[tuple]) -> None:
    """A report table of at most ``MAX_ROWS`` rows (the rest counted; all of them are in --report)."""
    if not rows:
        return
    table = Table(title=title, title_justify="left")
    table.add_column(columns[0], overflow="fold")
    for column in columns[1:]:
        table.add_column(column)
    for row in rows[:MAX_ROWS]:
        table.add_row(*row)
    if len(rows) > MAX_ROWS:
        table.add_row("...", "", f"{len(rows) - MAX_ROWS} more: see --report")
    console.print(table)


def _where(item) -> str:
    return f"{item.path}:{item.line}" if item.line else item.path
