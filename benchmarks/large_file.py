"""One large legacy-style module built from the legacy corpus, for size-scaling measurements.

Files of ``make_legacy_corpus.py`` (several seeds, shuffled) are concatenated until the target
size is reached, with ONE import block at the top: every top-level import is hoisted and
deduplicated, and a top-level name (def, class, assignment or import binding) that an earlier
file already bound is renamed with a ``_<file number>`` suffix in that file (NAME tokens only,
never attributes, strings or comments), so the result is a plausible, compilable big module.

    python benchmarks/large_file.py OUT.py --mb 1
"""

from __future__ import annotations

import argparse
import ast
import io
import random
import tempfile
import tokenize
from pathlib import Path

from make_legacy_corpus import build


def _bound(node: ast.stmt) -> set[str]:
    """Names a top-level statement binds in the module namespace."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    names = set()
    targets = node.targets if isinstance(node, ast.Assign) else (
        [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
    for target in targets:
        names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def _rename(source: str, renames: dict[str, str]) -> str:
    """Rename NAME tokens (not attributes after a dot) by token positions, keeping the rest."""
    if not renames:
        return source
    lines = source.splitlines(keepends=True)
    edits = []
    previous = None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.string in renames and not (
                previous is not None and previous.type == tokenize.OP and previous.string == "."):
            edits.append(token.start)
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            previous = token
    for row, col in reversed(edits):
        line = lines[row - 1]
        name = next(n for n in renames if line.startswith(n, col))
        lines[row - 1] = line[:col] + renames[name] + line[col + len(name):]
    return "".join(lines)


def _import_line(node: ast.stmt, alias: ast.alias, bound: str) -> str:
    if isinstance(node, ast.Import):
        default = alias.name.split(".")[0]
        return f"import {alias.name}" + (f" as {bound}" if alias.asname or bound != default else "")
    module = "." * node.level + (node.module or "")
    return f"from {module} import {alias.name}" + (f" as {bound}" if bound != alias.name else "")


def concatenate(sources: list[str], target_bytes: int) -> str:
    """Join module sources into one module of at least ``target_bytes`` (see the module doc)."""
    future: list[str] = []
    imports: list[str] = []
    seen_imports: set[str] = set()
    bound: dict[str, str] = {}  # name -> what bound it ("import:<line>" or "def")
    bodies: list[str] = []
    size = 0
    for number, source in enumerate(sources):
        if size >= target_bytes:
            break
        tree = ast.parse(source)
        lines = source.splitlines(keepends=True)
        renames: dict[str, str] = {}
        body_parts: list[str] = []
        kept_imports: list[tuple[ast.stmt, ast.alias]] = []
        for index, node in enumerate(tree.body):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                kept_imports += [(node, alias) for alias in node.names]
                continue
            if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # the file's docstring
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            body_parts.append("".join(lines[start - 1:node.end_lineno]))
            for name in _bound(node):
                if name in bound:
                    renames[name] = f"{name}_{number}"
                bound[name] = "def"
        for node, alias in kept_imports:
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                line = _import_line(node, alias, alias.name)
                if line not in future:
                    future.append(line)
                continue
            name = alias.asname or (alias.name if isinstance(node, ast.ImportFrom)
                                    else alias.name.split(".")[0])
            line = _import_line(node, alias, name)
            origin = "import:" + (line if isinstance(node, ast.ImportFrom) or alias.asname
                                  else name)
            if bound.get(name) not in (None, origin):
                renames[name] = f"{name}_{number}"
                name = renames[name]
                line = _import_line(node, alias, name)
                origin = "import:" + line
            bound[name] = origin
            if line not in seen_imports:
                seen_imports.add(line)
                imports.append(line)
        body = _rename("\n\n".join(body_parts), renames)
        bodies.append(f"# --- part {number} ---\n\n{body}")
        size += len(body)
    head = '"""A large module assembled from a legacy-style project."""\n\n'
    head += "".join(f"{line}\n" for line in future) + ("\n" if future else "")
    return head + "".join(f"{line}\n" for line in imports) + "\n\n" + "\n\n\n".join(bodies) + "\n"


def corpus_sources(target_bytes: int, seed: int = 0) -> list[str]:
    """Enough legacy-corpus files (seeds ``seed``, ``seed + 1``, ...) for ``target_bytes``, shuffled."""
    sources: list[str] = []
    total = 0
    round_ = 0
    while total < target_bytes * 1.3:
        with tempfile.TemporaryDirectory() as tmp:
            files = build(Path(tmp) / "legacy", 120, seed + round_)
            texts = [p.read_text() for p in files]
        sources += texts
        total += sum(len(t) for t in texts)
        round_ += 1
    random.Random(seed).shuffle(sources)
    return sources


def large_module(megabytes: float, seed: int = 0) -> str:
    target = int(megabytes * 1_000_000)
    return concatenate(corpus_sources(target, seed), target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--mb", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.write_text(large_module(args.mb, args.seed))


if __name__ == "__main__":
    main()
