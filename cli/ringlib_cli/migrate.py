"""``ringlib migrate``: rewrite a repository from dilated_attention_pytorch 0.2 to ringlib."""

from __future__ import annotations

import enum
import os
import sys
from collections import Counter
from pathlib import Path
from typing import List, NoReturn, Optional

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
    paths: List[Path] = typer.Argument(..., metavar="PATH", help="Files or directories to migrate."),
    diff: bool = typer.Option(False, "--diff", help="Print a unified diff; write nothing."),
    check: bool = typer.Option(
        False, "--check", help="Write nothing; exit 1 when anything would change (CI, pre-commit)."),
    strict: bool = typer.Option(
        False, "--strict", help="Exit 1 while any old name remains, rewritten or not (also those "
                                "left with a ringlib-migrate comment). For CI: --check --strict."),
    semantics: Optional[Semantics] = typer.Option(
        None, "--semantics", metavar="preserve|intended",
        help="preserve: the numbers the old classes computed (what the shim builds; default). "
             "intended: the correct canonical semantics; the report lists each numerical change."),
    select: Optional[List[str]] = typer.Option(
        None, "--select", metavar="NAMES", help="Only these legacy names (comma-separated or repeated)."),
    ignore: Optional[List[str]] = typer.Option(
        None, "--ignore", metavar="NAMES", help="Leave these legacy names alone (comma-separated or repeated)."),
    exclude: Optional[List[str]] = typer.Option(
        None, "--exclude", metavar="GLOB", help="Skip paths matching this glob (gitignore syntax; repeatable)."),
    jobs: Optional[int] = typer.Option(
        None, "--jobs", "-j", min=0, metavar="N",
        help="Worker processes (0, the default: one per CPU, as far as there is work for them)."),
    report: Optional[Path] = typer.Option(
        None, "--report", metavar="FILE", help="Write every site, comment and error to this JSON file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print errors only."),
) -> None:
    """Rewrite old dilated_attention_pytorch imports and calls to ringlib, losslessly.

    \b
    Exit codes:
      0    nothing to do, or all done
      1    --check: files would change; --strict: old names remain
      2    errors: bad options or paths (checked before anything is written), files that
           could not be read, parsed or written (listed; the others are still processed)
      130  interrupted (Ctrl-C); the files written so far are listed
    """
    from ringlib_codemods import config as config_module
    from ringlib_codemods.index import SelectionError
    from ringlib_codemods.runner import EXIT_ERROR, Options, run

    console = Console(stderr=True, highlight=False)

    def fail(message: str) -> NoReturn:
        console.print(f"error: {message}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_ERROR)

    if diff and check:
        fail("--diff and --check exclude each other")
    missing = [str(p) for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        fail(f"no such file or directory: {', '.join(missing)}")
    try:
        pyproject = config_module.find_pyproject(paths)
        settings = config_module.load(pyproject) if pyproject else {}
    except config_module.ConfigError as error:
        fail(str(error))
    options = Options(
        semantics=(semantics.value if semantics else settings.get("semantics", "preserve")),
        mode="diff" if diff else "check" if check else "write",
        jobs=jobs if jobs is not None else settings.get("jobs", 0),
        select=_names(select) or tuple(settings.get("select", ())),
        ignore=_names(ignore) or tuple(settings.get("ignore", ())),
        exclude=tuple(settings.get("exclude", ())) + tuple(exclude or ()),
        strict=strict,
    )
    quiet = quiet or settings.get("quiet", False)
    report = report or (Path(settings["report"]) if "report" in settings else None)
    if report is not None:
        problem = _unwritable(report)
        if problem:
            fail(f"--report {report}: {problem}")
    base = pyproject.parent if pyproject else None
    try:
        from ringlib_codemods.index import LegacyIndex

        LegacyIndex.load(select=options.select, ignore=options.ignore)
    except SelectionError as error:
        fail(str(error))

    progress = Progress(
        TextColumn("[bold]ringlib migrate"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, auto_refresh=False, transient=True,
        disable=quiet or not console.is_terminal,
    )
    task = progress.add_task("files", total=None)

    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)
        progress.refresh()

    with progress:
        result = run(paths, options, on_progress=advance, base=base)

    if options.mode == "diff":
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        for outcome in result.outcomes:
            if outcome.diff:
                sys.stdout.write(_colored(outcome.diff) if color else outcome.diff)
        sys.stdout.flush()
    if report is not None:
        result.write_report(report)
    _print(console, result, quiet)
    raise typer.Exit(result.exit_code)


def _unwritable(path: Path) -> str | None:
    """Why ``path`` cannot be written as a report, or None."""
    if path.is_dir():
        return "is a directory"
    parent = path.absolute().parent
    if not parent.is_dir():
        return f"directory {parent} does not exist"
    if path.exists() and not os.access(path, os.W_OK) or not os.access(parent, os.W_OK):
        return "not writable"
    return None


_DIFF_COLORS = {"+": "\x1b[32m", "-": "\x1b[31m", "@": "\x1b[36m"}


def _colored(diff: str) -> str:
    out = []
    for line in diff.splitlines(keepends=True):
        code = _DIFF_COLORS.get(line[:1])
        if line.startswith(("+++", "---")):
            code = "\x1b[1m"
        out.append(f"{code}{line.rstrip(chr(10))}\x1b[0m\n" if code else line)
    return "".join(out)


def _print(console: Console, result, quiet: bool) -> None:
    items = result.items
    errors = [i for i in items if i.kind == "error"]
    for item in errors:  # plain lines, never cut by the terminal width
        console.print(f"{_where(item)}: error: {item.message}", markup=False, highlight=False,
                      soft_wrap=True)
    if result.interrupted:
        written = result.written
        console.print(f"interrupted: {len(written)} file(s) written before Ctrl-C"
                      + (":" if written else ""), markup=False, soft_wrap=True)
        for path in written:
            console.print(f"written: {path}", markup=False, highlight=False, soft_wrap=True)
        return
    if quiet:
        return
    plain = not console.is_terminal
    marked = [(_where(i), i.kind, i.message) for i in items if i.kind in ("comment", "skipped")]
    _print_table(console, "left for a human", ("where", "what", "reason"), marked, plain)
    if result.options.semantics == "intended":
        changes = [(_where(i), i.name, i.numerics) for i in items if i.kind == "rewritten"]
        _print_table(console, "numerical changes (--semantics intended)", ("where", "name", "change"),
                     changes, plain)
    for path in result.written:
        console.print(f"written: {path}", markup=False, highlight=False, soft_wrap=True)
    kinds = Counter(i.kind for i in items)
    mode = result.options.mode
    write = mode == "write"
    rows = [
        ("files scanned", result.scanned - result.count("skipped") + sum(
            1 for o in result.outcomes if o.status == "skipped" and not _listed(o))),
        ("files changed" if write else "files to change", result.count("changed")),
        ("files without old names (pre-filter)", result.count("filtered")),
        ("files skipped (symlinks, copies of the old package)", result.count("skipped")),
        ("errors", result.count("error")),
        ("references rewritten" if write else "references to rewrite", kinds["rewritten"]),
        ("references left with a ringlib-migrate comment", kinds["comment"]),
        ("notes (dropped arguments)", kinds["note"]),
    ]
    if result.options.strict:
        rows.append(("old names remaining (--strict)", result.remaining))
    title = f"ringlib migrate ({result.options.semantics}, {mode}{', strict' if result.options.strict else ''})"
    if plain:
        console.print(title, markup=False, soft_wrap=True)
        for label, value in rows:
            console.print(f"  {label}: {value}", markup=False, highlight=False, soft_wrap=True)
        return
    summary = Table(title=title, title_justify="left", show_header=False)
    summary.add_column(justify="left")
    summary.add_column(justify="right")
    for label, value in rows:
        summary.add_row(label, str(value))
    console.print(summary)


def _listed(outcome) -> bool:
    """Skipped outcomes that discovery reported (symlinks) were never read."""
    return any("symlink" in i.message for i in outcome.items)


def _print_table(console: Console, title: str, columns: tuple[str, str, str], rows: list[tuple],
                 plain: bool = False) -> None:
    """A report table of at most ``MAX_ROWS`` rows (the rest counted; all of them are in
    --report); not on a terminal, every row as one plain line (``where: what: reason``)."""
    if not rows:
        return
    if plain:
        console.print(f"{title}:", markup=False, soft_wrap=True)
        for row in rows:
            console.print(": ".join(row), markup=False, highlight=False, soft_wrap=True)
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
