"""A snapshot of what ``ringlib migrate`` does to the benchmark corpora, to compare two versions.

A speed-up of the codemod must not change a byte of its output or a line of its report. This
migrates (in memory, one process) the legacy corpus of seeds 0 and 1 and the realistic
corpus, and writes, per file, the hash of the migrated bytes and the report items (paths made
relative). Run it once with each version of the code on the path and compare the two files:

    python benchmarks/codemod_snapshot.py before.json      # with the old code importable
    python benchmarks/codemod_snapshot.py after.json
    python benchmarks/codemod_snapshot.py --compare before.json after.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from make_legacy_corpus import build  # noqa: E402
import realistic_corpus  # noqa: E402

from ringlib_codemods import LegacyIndex  # noqa: E402
from ringlib_codemods.runner import Options, process_file  # noqa: E402


def corpora(root: Path, files: int) -> dict[str, list[Path]]:
    return {
        "legacy-0": build(root / "legacy-0", files, 0),
        "legacy-1": build(root / "legacy-1", files, 1),
        "realistic": realistic_corpus.build(root / "realistic", files * 2, 0),
    }


def snapshot(files: int) -> dict[str, dict]:
    index = LegacyIndex.load()
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, paths in corpora(root, files).items():
            for path in paths:
                outcome = process_file(path, index, Options(jobs=1))
                data = outcome.new if outcome.new is not None else path.read_bytes()
                items = [{**i.as_dict(), "path": str(Path(i.path).relative_to(root))}
                         for i in outcome.items]
                out[str(path.relative_to(root))] = {
                    "status": outcome.status,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "items": items,
                }
    return out


def compare(before: dict, after: dict) -> list[str]:
    problems = [f"{p}: only in one snapshot" for p in sorted(set(before) ^ set(after))]
    for path in sorted(set(before) & set(after)):
        a, b = before[path], after[path]
        for key in ("status", "sha256", "items"):
            if a[key] != b[key]:
                problems.append(f"{path}: {key} differs")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?")
    parser.add_argument("--files", type=int, default=120)
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(p.read_text()) for p in args.compare)
        problems = compare(before, after)
        print(f"{len(before)} files compared: " + ("identical" if not problems else
                                                   f"{len(problems)} differences"))
        for problem in problems[:20]:
            print("  " + problem)
        sys.exit(1 if problems else 0)
    if args.out is None:
        parser.error("give a file to write the snapshot to, or --compare BEFORE AFTER")
    data = snapshot(args.files)
    args.out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    changed = sum(v["status"] == "changed" for v in data.values())
    print(f"{len(data)} files, {changed} changed -> {args.out}")


if __name__ == "__main__":
    main()
