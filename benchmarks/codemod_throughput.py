"""Throughput of ``ringlib migrate`` against a bare libcst parse + code generation.

Builds the legacy corpus (``make_legacy_corpus.py``), then times, on the same files:
  * bare:    ``libcst.parse_module(data).bytes`` for every file, one process;
  * migrate: ``ringlib_codemods.run`` in write mode on a fresh copy, with --jobs 1 and 2.
It also checks the acceptance criteria on the migrated copy: every file compiles, a second
run changes nothing, and every remaining old-name reference carries a ``ringlib-migrate``
comment and a report line.

    python benchmarks/codemod_throughput.py [--files 120] [--repeats 3]

With ``--large-file 0.5,1,2,5`` it instead builds one large module of each size (megabytes,
``large_file.py``: corpus files concatenated under one import block) and measures wall time
and peak RSS of ``ringlib migrate FILE --jobs 1`` and of a bare ``libcst.parse_module(...).code``,
each in its own process, to check both grow linearly with the file size.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import libcst as cst
from importlib.metadata import version

sys.path.insert(0, str(Path(__file__).parent))

from large_file import large_module  # noqa: E402
from make_legacy_corpus import build  # noqa: E402
import realistic_corpus  # noqa: E402

from ringlib_codemods import COMMENT_PREFIX, LegacyIndex, Options, run  # noqa: E402
from ringlib_codemods.resolve import Analysis  # noqa: E402


def bare(files: list[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        cst.parse_module(path.read_bytes()).bytes
    return time.perf_counter() - start


def cold_caches() -> None:
    """Empty the codemod's per-process caches (parsed recipe expressions, factories, literal
    tokens): each timed run starts as a fresh ``ringlib migrate`` process would."""
    for name, module in list(sys.modules.items()):
        if name.startswith("ringlib_codemods") and module is not None:
            for value in vars(module).values():
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()


def migrate(corpus: Path, jobs: int) -> tuple[float, object, Path]:
    copy = Path(tempfile.mkdtemp()) / "corpus"
    shutil.copytree(corpus, copy)
    cold_caches()
    start = time.perf_counter()
    result = run([copy], Options(jobs=jobs))
    return time.perf_counter() - start, result, copy


def paths(files: list[Path]) -> dict[str, int]:
    """How many files each way took: pre-filtered, migrated through an excerpt (excerpt.py),
    or as a whole module (and why the excerpt declined)."""
    from ringlib_codemods import pipeline

    try:
        from ringlib_codemods import excerpt
    except ImportError:  # code from before the excerpt path (for before/after figures)
        return {}

    index = LegacyIndex.load()
    counts: dict[str, int] = {}
    plain = pipeline._migrate

    def counted(module, source, index, semantics, path, label, part=None):
        try:
            result = plain(module, source, index, semantics, path, label, part)
        except excerpt.WholeModule as why:
            counts[f"whole module ({why})"] = counts.get(f"whole module ({why})", 0) + 1
            raise
        key = "excerpt" if part is not None else "whole module"
        counts[key] = counts.get(key, 0) + 1
        return result

    pipeline._migrate = counted
    try:
        for path in files:
            data = path.read_bytes()
            if not index.mentions(data):
                counts["pre-filtered"] = counts.get("pre-filtered", 0) + 1
                continue
            pipeline.migrate_code(data, index, path=path)
    finally:
        pipeline._migrate = plain
    return counts


def check(copy: Path, result) -> list[str]:
    problems = [f"{i.path}: {i.message}" for i in result.items if i.kind == "error"]
    index = LegacyIndex.load()
    for path in copy.rglob("*.py"):
        data = path.read_bytes()
        compile(data, str(path), "exec")
        if not index.mentions(data):
            continue
        module = cst.parse_module(data)
        analysis = Analysis(module, index, path)
        for site in analysis.sites:
            if COMMENT_PREFIX not in module.code_for_node(site.statement) and not any(
                    COMMENT_PREFIX in (line.comment.value if line.comment else "")
                    for line in module.header):
                problems.append(f"{path}: {site.name} left without a comment")
    second = run([copy], Options(jobs=1, mode="check"))
    if second.count("changed"):
        problems.append(f"second run would change {second.count('changed')} files")
    reported = {i.path for i in result.items if i.kind == "comment"}
    for path in copy.rglob("*.py"):
        if COMMENT_PREFIX in path.read_text() and str(path) not in reported:
            problems.append(f"{path}: comment without a report line")
    return problems


def measured(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):
        raise RuntimeError(f"{command} exited with {child.returncode}")
    return seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


BARE = "import sys, libcst; libcst.parse_module(open(sys.argv[1], 'rb').read()).code"
MIGRATE = "import sys; from ringlib_cli.app import main; sys.argv[0] = 'ringlib'; main()"


def large_files(sizes: list[float], repeats: int) -> None:
    """Time and peak memory of migrate vs a bare parse on one large module per size."""
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"libcst {version('libcst')}; best of {repeats}")
    print("| size | lines | bare parse + codegen | peak RSS | `migrate --jobs 1` | peak RSS "
          "| time ratio | s per MB (bare / migrate) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for megabytes in sizes:
        folder = Path(tempfile.mkdtemp())
        source = large_module(megabytes)
        original = folder / "original.py"
        original.write_text(source)
        size = len(source.encode()) / 1e6
        bare_runs = [measured([sys.executable, "-c", BARE, str(original)])
                     for _ in range(repeats)]
        runs = []
        for _ in range(repeats):
            target = folder / "big_module.py"
            shutil.copyfile(original, target)
            runs.append(measured([sys.executable, "-c", MIGRATE, "migrate", str(target),
                                  "--jobs", "1"]))
        (bare_s, _), (migrate_s, _) = min(bare_runs), min(runs)
        bare_mb, migrate_mb = max(r[1] for r in bare_runs), max(r[1] for r in runs)
        print(f"| {size:.2f} MB | {source.count(chr(10)):,} | {bare_s:.1f} s | {bare_mb:.0f} MB "
              f"| {migrate_s:.1f} s | {migrate_mb:.0f} MB | {migrate_s / bare_s:.2f}x "
              f"| {bare_s / size:.1f} / {migrate_s / size:.1f} |", flush=True)
        shutil.rmtree(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--corpus", choices=("legacy", "realistic"), default="legacy",
                        help="legacy: dense use of the old package in every file "
                             "(make_legacy_corpus.py); realistic: real modules, a quarter of "
                             "them using it in a few statements (realistic_corpus.py)")
    parser.add_argument("--source", type=Path, default=None,
                        help="for --corpus realistic: where to take modules from (default: stdlib)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tree", type=Path, default=None,
                        help="time a real source tree instead (it is copied; never written)")
    parser.add_argument("--large-file", metavar="SIZES", default=None,
                        help="comma-separated sizes in MB (e.g. 0.5,1,2,5): time and peak memory "
                             "on one large module per size instead of the corpus")
    args = parser.parse_args()
    if args.large_file is not None:
        large_files([float(s) for s in args.large_file.split(",")], args.repeats)
        return
    if args.tree is not None:
        corpus = Path(tempfile.mkdtemp()) / "tree"
        shutil.copytree(args.tree, corpus)
        files = sorted(corpus.rglob("*.py"))
    elif args.corpus == "realistic":
        corpus = Path(tempfile.mkdtemp()) / "realistic"
        files = realistic_corpus.build(corpus, args.files, args.seed, source=args.source)
    else:
        corpus = Path(tempfile.mkdtemp()) / "legacy"
        files = build(corpus, args.files, args.seed)
    lines = sum(len(p.read_text().splitlines()) for p in files)
    n = len(files)
    print(f"corpus: {n} files, {lines} lines, {sum(p.stat().st_size for p in files) / 1e6:.1f} MB; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, libcst {version('libcst')}; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"paths: {paths(files)}")
    bare_s = min(bare(files) for _ in range(args.repeats))
    print(f"bare libcst parse + codegen : {bare_s:6.2f} s  {n / bare_s:7.1f} files/s")
    for jobs in (0, 1):  # 0: the default (one worker per CPU, as far as there is work)
        best = None
        for _ in range(args.repeats):
            seconds, result, copy = migrate(corpus, jobs)
            if best is None or seconds < best[0]:
                best = (seconds, result, copy)
        seconds, result, copy = best
        print(f"ringlib migrate --jobs {jobs}    : {seconds:6.2f} s  {n / seconds:7.1f} files/s  "
              f"({result.count('changed')} changed, {result.count('filtered')} pre-filtered, "
              f"ratio to bare {seconds / bare_s:.2f}x)")
    kinds: dict[str, int] = {}
    for item in result.items:
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
    print(f"sites: {kinds}")
    if args.tree is not None:
        return
    problems = check(copy, result)
    print("acceptance:", "all files compile, second run changes nothing, every remaining "
          "old-name reference is commented and reported" if not problems else problems[:10])


if __name__ == "__main__":
    main()
