"""Migrating many files: pre-filter, process pool, writes, diffs, report, exit code."""

from __future__ import annotations

import contextlib
import gc
import difflib
import json
import multiprocessing
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from ringlib_codemods.context import Item
from ringlib_codemods.files import Notebook, discover, write_atomic
from ringlib_codemods.index import LegacyIndex
from ringlib_codemods.pipeline import migrate_code

EXIT_OK, EXIT_PENDING, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


@dataclass(frozen=True)
class Options:
    """One run of ``ringlib migrate``."""

    semantics: str = "preserve"
    mode: str = "write"  # "write", "diff", "check"
    jobs: int = 1
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    strict: bool = False  # exit 1 while any old name remains, rewritten or not


@dataclass
class FileOutcome:
    path: str
    status: str  # "changed", "unchanged", "filtered", "skipped", "error"
    items: list[Item] = field(default_factory=list)
    diff: str = ""
    new: bytes | None = None  # the migrated bytes, to be written (write mode)
    written: bool = False


#: items that say an old name is still there (``--strict`` fails on them)
REMAINING = ("comment",)


@dataclass
class RunResult:
    outcomes: list[FileOutcome] = field(default_factory=list)
    options: Options = field(default_factory=Options)
    scanned: int = 0  # files found and read (not missing paths, not skipped ones)
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def items(self) -> list[Item]:
        return [i for o in self.outcomes for i in o.items]

    @property
    def written(self) -> list[str]:
        """Files rewritten on disk, in the order they were written."""
        return [o.path for o in self.outcomes if o.written]

    @property
    def remaining(self) -> int:
        """Old-name references still there (or still there after this run's writes)."""
        left = sum(i.kind in REMAINING for i in self.items)
        if self.options.mode != "write":
            left += sum(i.kind == "rewritten" for i in self.items)
        return left

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.count("error"):
            return EXIT_ERROR
        if self.options.mode == "check" and self.count("changed"):
            return EXIT_PENDING
        if self.options.strict and self.remaining:
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
            "strict": self.options.strict,
            "exit_code": self.exit_code,
            "interrupted": self.interrupted,
            "files": {s: self.count(s) for s in
                      ("changed", "unchanged", "filtered", "skipped", "error")},
            "written": self.written,
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
    """Migrate one file in memory; nothing is written here (``write_outcome`` does it)."""
    label = str(path)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as error:
            return FileOutcome(label, "error", [Item(label, 0, 0, "error",
                                                     f"cannot read: {error.strerror or error}")])
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
        notebook = Notebook.parse(data)
    except (ValueError, UnicodeDecodeError) as error:
        return FileOutcome(label, "error", [Item(label, 0, 0, "error", f"not a notebook: {error}")])
    flagged = [Item(label, 0, 0, "comment", reason) for reason in notebook.flag(index)]
    result = migrate_code(notebook.code, index, semantics=options.semantics, path=path, label=label)
    items = [*flagged, *result.items]
    if result.error:
        return FileOutcome(label, "error", items)
    if not result.changed:
        return FileOutcome(label, "unchanged", items)
    assert isinstance(result.code, str)
    return _finish(path, data, notebook.restore(result.code), items, options)


def _finish(path: Path, old: bytes, new: bytes, items: list[Item], options: Options) -> FileOutcome:
    label = str(path)
    diff = ""
    if options.mode == "diff":
        diff = "".join(difflib.unified_diff(
            old.decode("utf-8", "replace").splitlines(keepends=True),
            new.decode("utf-8", "replace").splitlines(keepends=True),
            fromfile=f"a/{label.lstrip('/')}", tofile=f"b/{label.lstrip('/')}"))
    return FileOutcome(label, "changed", items, diff, new if options.mode == "write" else None)


def write_outcome(outcome: FileOutcome) -> FileOutcome:
    """Write a changed file atomically. A read-only or unwritable file is an error and stays
    as it was; its would-be rewrites are not counted as done."""
    if outcome.new is None:
        return outcome
    path = Path(outcome.path)
    new, outcome.new = outcome.new, None
    problem = None
    if not _writable(path):
        problem = "file is read-only: left alone"
    else:
        try:
            write_atomic(path, new)
        except OSError as error:
            problem = f"cannot write: {error.strerror or error}"
    if problem is None:
        outcome.written = True
        return outcome
    kept = [i for i in outcome.items if i.kind != "rewritten"]
    pending = sum(i.kind == "rewritten" for i in outcome.items)
    message = f"{problem} ({pending} reference(s) not rewritten)"
    return FileOutcome(outcome.path, "error", [*kept, Item(outcome.path, 0, 0, "error", message)])


def _writable(path: Path) -> bool:
    """Writable by us, and not marked read-only (no write bit; even root leaves it)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return bool(mode & 0o222) and os.access(path, os.W_OK)


# -- a process pool ------------------------------------------------------------------------
_WORKER: tuple[LegacyIndex, Options] | None = None


def _init_worker(index: LegacyIndex, options: Options) -> None:
    """Workers ignore Ctrl-C: the main process stops them (and does all writing)."""
    global _WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER = (index, options)


def _work(batch: list[str]) -> list[FileOutcome]:
    assert _WORKER is not None
    index, options = _WORKER
    return [process_file(Path(p), index, options) for p in batch]


#: objects allocated (net) between two collections of the youngest generation while
#: migrating: parsing allocates hundreds of thousands of nodes that form no cycles, and at
#: Python's default (700) the collector runs thousands of times for nothing (5-8 % of the
#: work on the legacy corpus; mypy raises its threshold for the same reason)
GC_THRESHOLD = 50_000


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect cyclic garbage less often during a run (worker processes inherit it)."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], GC_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


@_fewer_collections()
def run(
    paths: Sequence[Path],
    options: Options,
    entries: Iterable | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    base: Path | None = None,
) -> RunResult:
    """Migrate every file under ``paths``. ``on_progress(done, total)`` after each file.

    Files are read, pre-filtered (only those that can mention an old name are parsed) and
    migrated in ``options.jobs`` worker processes, started once and fed in chunks; this
    process writes the results. Ctrl-C stops the workers at once: the result then says
    ``interrupted`` and lists the files written so far (every write is atomic).
    """
    index = LegacyIndex.load(tuple(entries) if entries is not None else None,
                             options.select, options.ignore)
    found = discover(paths, options.exclude, base)
    result = RunResult(options=options, scanned=len(found.files))
    for path, why in found.errors:
        result.outcomes.append(FileOutcome(str(path), "error", [Item(str(path), 0, 0, "error", why)]))
    for path, why in found.skipped:
        result.outcomes.append(FileOutcome(str(path), "skipped", [Item(str(path), 0, 0, "skipped", why)]))
    total = len(found.files)
    done = 0
    if on_progress:
        on_progress(done, total)
    try:
        pending, sizes = _prefilter(found.files, index, result)
    except KeyboardInterrupt:
        result.interrupted = True
        return result
    done = total - len(pending)
    if on_progress and done:
        on_progress(done, total)
    jobs = options.jobs if options.jobs > 0 else auto_jobs(pending, sizes)
    outcomes = (_serial(pending, index, options) if jobs <= 1 or len(pending) < 2
                else _pool(pending, index, options, jobs, sizes))
    try:
        for batch in outcomes:
            for outcome in batch:
                with _interrupt_after():  # a file written is a file listed as written
                    result.outcomes.append(write_outcome(outcome))
            done += len(batch)
            if on_progress:
                on_progress(done, total)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        outcomes.close()  # stops the pool's workers now if they are still running
    order = {str(p): i for i, p in enumerate(found.files)}
    result.outcomes.sort(key=lambda o: order.get(o.path, -1))
    return result


@contextlib.contextmanager
def _interrupt_after():
    """Hold Ctrl-C until the block is done, then raise it: writing one file and recording it
    is one step (waits for the workers stay interruptible)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _prefilter(files: list[Path], index: LegacyIndex, result: RunResult
               ) -> tuple[list[Path], dict[Path, int]]:
    """The files that can mention an old name (the others are recorded as filtered here, so
    no worker is started for them), and their sizes."""
    pending: list[Path] = []
    sizes: dict[Path, int] = {}
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            pending.append(path)  # process_file reports it
            sizes[path] = 0
            continue
        if index.mentions(data):
            pending.append(path)
            sizes[path] = len(data)
        else:
            result.outcomes.append(FileOutcome(str(path), "filtered"))
    return pending, sizes


def _serial(files: list[Path], index: LegacyIndex, options: Options) -> Iterator[list[FileOutcome]]:
    for path in files:
        yield [process_file(path, index, options)]


#: bytes of source a worker process must have to repay its start (a fork costs about as
#: much as parsing 20 KB)
BYTES_PER_WORKER = 64_000


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def auto_jobs(files: Sequence[Path], sizes: dict[Path, int] | None = None) -> int:
    """Worker processes for ``--jobs 0``: one per CPU, as far as there is work for them
    (``files``: those the pre-filter kept)."""
    total = sum(sizes[p] if sizes and p in sizes else _size(p) for p in files)
    return max(1, min(os.cpu_count() or 1, total // BYTES_PER_WORKER))


def _pool(files: list[Path], index: LegacyIndex, options: Options,
          jobs: int, sizes: dict[Path, int] | None = None) -> Iterator[list[FileOutcome]]:
    """Chunks of files to ``jobs`` processes, biggest files first so the load evens out."""
    ordered = sorted(files, key=lambda p: -(sizes[p] if sizes and p in sizes else _size(p)))
    size = max(1, min(16, len(ordered) // (jobs * 4)))
    chunks = [[str(p) for p in ordered[i:i + size]] for i in range(0, len(ordered), size)]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pool = context.Pool(min(jobs, len(chunks)), initializer=_init_worker, initargs=(index, options))
    try:
        yield from pool.imap_unordered(_work, chunks)
        pool.close()
        pool.join()
    finally:
        pool.terminate()
