"""Migrating many files: pre-filter, process pool, writes, diffs, report, exit code."""

from __future__ import annotations

import difflib
import json
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ringlib_legacy.schema import LegacyName
from ringlib_codemods.context import Item
from ringlib_codemods.files import (
    discover,
    notebook_source,
    restore_notebook,
    write_atomic,
)
from ringlib_codemods.index import LegacyIndex
from ringlib_codemods.pipeline import migrate_code

EXIT_OK, EXIT_PENDING, EXIT_ERROR = 0, 1, 2


@dataclass(frozen=True)
class Options:
    """One run of ``ringlib migrate``."""

    semantics: str = "preserve"
    mode: str = "write"  # "write", "diff", "check"
    jobs: int = 1
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass
class FileOutcome:
    path: str
    status: str  # "changed", "unchanged", "filtered", "skipped", "error"
    items: list[Item] = field(default_factory=list)
    diff: str = ""


@dataclass
class RunResult:
    outcomes: list[FileOutcome] = field(default_factory=list)
    options: Options = field(default_factory=Options)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def items(self) -> list[Item]:
        return [i for o in self.outcomes for i in o.items]

    @property
    def exit_code(self) -> int:
        if self.count("error"):
            return EXIT_ERROR
        if self.options.mode == "check" and self.count("changed"):
            return EXIT_PENDING
        return EXIT_OK

    def report(self) -> dict:
        kinds: dict[str, int] = {}
        for item in self.items:
            kinds[item.kind] = kinds.get(item.kind, 0) + 1
        return {
            "tool": "ringlib migrate",
            "semantics": self.options.semantics,
            "mode": self.options.mode,
            "exit_code": self.exit_code,
            "files": {s: self.count(s) for s in
                      ("changed", "unchanged", "filtered", "skipped", "error")},
            "sites": kinds,
            "items": [i.as_dict() for i in self.items],
        }

    def write_report(self, path: Path) -> None:
        path.write_text(json.dumps(self.report(), indent=2) + "\n", encoding="utf-8")


# -- one file --------------------------------------------------------------------------------
def _vendored(path: Path, index: LegacyIndex) -> bool:
    """Is ``path`` a module of a copy of the old package itself (vendored, or the shim)?"""
    parts = path.absolute().parts
    for i, part in enumerate(parts[:-1]):
        if part in index.packages and (Path(*parts[: i + 1]) / "__init__.py").exists():
            return True
    return False


def process_file(path: Path, index: LegacyIndex, options: Options,
                 data: bytes | None = None) -> FileOutcome:
    label = str(path)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as error:
            return FileOutcome(label, "error", [Item(label, 0, 0, "error",
                                                     f"cannot read: {error.strerror}")])
        if not index.mentions(data):
            return FileOutcome(label, "filtered")
    if _vendored(path, index):
        return FileOutcome(label, "skipped", [Item(
            label, 0, 0, "skipped", "part of a copy of the old package itself: left alone")])
    try:
        if path.suffix == ".ipynb":
            return _notebook(path, data, index, options)
        result = migrate_code(data, index, semantics=options.semantics, path=path, label=label)
    except RecursionError:
        return FileOutcome(label, "error", [Item(label, 0, 0, "error",
                                                 "too deeply nested to parse, left alone")])
    if result.error:
        return FileOutcome(label, "error", result.items)
    if not result.changed:
        return FileOutcome(label, "unchanged", result.items)
    assert isinstance(result.code, bytes)
    return _finish(path, data, result.code, result.items, options)


def _notebook(path: Path, data: bytes, index: LegacyIndex, options: Options) -> FileOutcome:
    label = str(path)
    try:
        notebook, code, magics = notebook_source(data)
    except (ValueError, UnicodeDecodeError) as error:
        return FileOutcome(label, "error", [Item(label, 0, 0, "error", f"not a notebook: {error}")])
    result = migrate_code(code, index, semantics=options.semantics, path=path, label=label)
    if result.error:
        return FileOutcome(label, "error", result.items)
    if not result.changed:
        return FileOutcome(label, "unchanged", result.items)
    assert isinstance(result.code, str)
    new = restore_notebook(notebook, result.code, magics)
    return _finish(path, data, new, result.items, options)


def _finish(path: Path, old: bytes, new: bytes, items: list[Item], options: Options) -> FileOutcome:
    label = str(path)
    diff = ""
    if options.mode == "diff":
        diff = "".join(difflib.unified_diff(
            old.decode("utf-8", "replace").splitlines(keepends=True),
            new.decode("utf-8", "replace").splitlines(keepends=True),
            fromfile=f"a/{label.lstrip('/')}", tofile=f"b/{label.lstrip('/')}"))
    elif options.mode == "write":
        try:
            write_atomic(path, new)
        except OSError as error:
            return FileOutcome(label, "error", [*items, Item(
                label, 0, 0, "error", f"cannot write: {error.strerror}")])
    return FileOutcome(label, "changed", items, diff)


# -- a process pool ------------------------------------------------------------------------
_WORKER: tuple[LegacyIndex, Options] | None = None


def _init_worker(entries: tuple[LegacyName, ...], options: Options) -> None:
    global _WORKER
    _WORKER = (LegacyIndex.load(entries, options.select, options.ignore), options)


def _work(batch: list[tuple[str, bytes]]) -> list[FileOutcome]:
    assert _WORKER is not None
    index, options = _WORKER
    return [process_file(Path(p), index, options, data) for p, data in batch]


def run(
    paths: Sequence[Path],
    options: Options,
    entries: Iterable[LegacyName] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    base: Path | None = None,
) -> RunResult:
    """Migrate every file under ``paths``. ``on_progress(done, total)`` after each file.

    Files are read and pre-filtered here; only the ones that can mention an old name are
    parsed, in ``options.jobs`` worker processes.
    """
    from ringlib_legacy import registry

    entries = tuple(registry.LEGACY_NAMES if entries is None else entries)
    index = LegacyIndex.load(entries, options.select, options.ignore)
    found = discover(paths, options.exclude, base)
    result = RunResult(options=options)
    for path, why in found.errors:
        result.outcomes.append(FileOutcome(str(path), "error", [Item(str(path), 0, 0, "error", why)]))
    for path, why in found.skipped:
        result.outcomes.append(FileOutcome(str(path), "skipped", [Item(str(path), 0, 0, "skipped", why)]))
    total = len(found.files)
    done = 0
    candidates: list[tuple[str, bytes]] = []
    for path in found.files:
        try:
            data = path.read_bytes()
        except OSError as error:
            result.outcomes.append(FileOutcome(str(path), "error", [Item(
                str(path), 0, 0, "error", f"cannot read: {error.strerror or error}")]))
            done += 1
            continue
        if index.mentions(data):
            candidates.append((str(path), data))
        else:
            result.outcomes.append(FileOutcome(str(path), "filtered"))
            done += 1
    if on_progress:
        on_progress(done, total)
    jobs = options.jobs if options.jobs > 0 else auto_jobs(len(candidates))
    if jobs <= 1 or len(candidates) < 4:
        for name, data in candidates:
            result.outcomes.append(process_file(Path(name), index, options, data))
            done += 1
            if on_progress:
                on_progress(done, total)
    else:
        for outcomes in _pool(candidates, entries, options, jobs):
            result.outcomes.extend(outcomes)
            done += len(outcomes)
            if on_progress:
                on_progress(done, total)
    order = {str(p): i for i, p in enumerate(found.files)}
    result.outcomes.sort(key=lambda o: order.get(o.path, -1))
    return result


#: files a worker process must have to repay its start-up (measured: on 2 cores, 60 files to
#: parse ran slower in 2 processes than in one)
FILES_PER_WORKER = 100


def auto_jobs(candidates: int) -> int:
    """Worker processes for ``--jobs 0``: one per CPU, but only as many as have enough files."""
    return max(1, min(os.cpu_count() or 1, candidates // FILES_PER_WORKER))


def _pool(candidates, entries, options: Options, jobs: int):
    """Batches of files to ``jobs`` processes, biggest first so the load evens out."""
    candidates = sorted(candidates, key=lambda c: -len(c[1]))
    size = max(1, min(16, len(candidates) // (jobs * 4)))
    batches = [candidates[i:i + size] for i in range(0, len(candidates), size)]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(batches)), mp_context=context,
                             initializer=_init_worker, initargs=(entries, options)) as pool:
        futures: list[Future] = [pool.submit(_work, batch) for batch in batches]
        for future in futures:
            yield future.result()
