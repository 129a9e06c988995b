"""How much of a legacy corpus ``ringlib migrate`` rewrites, and what it leaves, by reason.

    python benchmarks/codemod_coverage.py [--files 120] [--seed 0] [--semantics preserve]

Builds the corpus of ``make_legacy_corpus.py`` in a temporary directory, migrates every file
(library API, one process), migrates the result again and reports: rewritten use sites,
use sites left with a ``# ringlib-migrate:`` comment (the "import of X kept" comments, a
consequence of a use left for a human, are not use sites), errors, files changed by the
second run, files that do not compile, the rate rewritten / (rewritten + commented) and the
commented sites grouped by reason.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from make_legacy_corpus import build  # noqa: E402

from ringlib_codemods import migrate_code  # noqa: E402
from ringlib_codemods.index import LegacyIndex  # noqa: E402


def measure(files: int, seed: int, semantics: str) -> dict:
    index = LegacyIndex.load()
    counts: Counter = Counter()
    reasons: Counter = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        paths = build(Path(tmp), files, seed)
        for path in paths:
            source = path.read_text()
            result = migrate_code(source, index, semantics=semantics, path=path)
            if result.error:
                counts["errors"] += 1
            for item in result.items:
                if item.kind == "rewritten":
                    counts["rewritten"] += 1
                elif item.kind == "comment":
                    if "import of" in item.message and "kept" in item.message:
                        counts["import-kept"] += 1
                    else:
                        counts["commented"] += 1
                        reasons[re.sub(r"\d+", "N", item.message)[:110]] += 1
            again = migrate_code(result.code, index, semantics=semantics, path=path)
            counts["second-run changed"] += again.changed
            try:
                compile(result.code, str(path), "exec")
            except SyntaxError:
                counts["do not compile"] += 1
        counts["files"] = len(paths)
    total = counts["rewritten"] + counts["commented"]
    counts["rate %"] = round(100 * counts["rewritten"] / total, 1) if total else 100.0
    return {"counts": counts, "reasons": reasons}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--semantics", default="preserve")
    args = parser.parse_args()
    out = measure(args.files, args.seed, args.semantics)
    for key, value in sorted(out["counts"].items()):
        print(f"{key:20s} {value}")
    print("\ncommented use sites by reason:")
    for reason, n in out["reasons"].most_common():
        print(f"{n:5d}  {reason}")


if __name__ == "__main__":
    main()
