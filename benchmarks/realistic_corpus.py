"""Build a corpus that looks like an ordinary project which uses the old package here and there.

Real modules (the standard library of the running Python: ordinary, varied, well-formed
code) are copied; most stay as they are, and a share of them (``--users``, default 25 %)
gets the old package inserted the way projects use it: one import among the module's
imports (``from``, ``import ... as``, and now and then inside a function, a lazy import),
one construction of an old class inside an existing function and a small helper function at
the end. Used by ``codemod_throughput.py --corpus realistic``; deterministic for a given seed.

    python benchmarks/realistic_corpus.py OUT_DIR [--files 300] [--seed 0] [--source DIR]
"""

from __future__ import annotations

import argparse
import ast
import random
import sysconfig
from pathlib import Path

from make_legacy_corpus import X_CLASSES, _segments

MIN_BYTES, MAX_BYTES = 2_000, 80_000


def _candidates(source: Path) -> list[Path]:
    files = []
    for path in sorted(source.rglob("*.py")):
        if any(part in ("test", "tests", "idlelib", "lib2to3", "site-packages") or part.startswith(".")
               for part in path.relative_to(source).parts[:-1]):
            continue
        try:
            size = path.stat().st_size
        except OSError:
            continue
        if MIN_BYTES <= size <= MAX_BYTES:
            files.append(path)
    return files


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _insert_use(text: str, rng: random.Random) -> str | None:
    """``text`` with one old import and two uses of an old class, or None (no good spot)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    module, name = rng.choice(X_CLASSES)
    segments, rates = _segments(rng)
    call = f"{{cls}}(512, 8, {segments}, {rates})"
    lines = _lines(text)
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef) and len(n.body) > 1
                 and n.body[1].col_offset > 0 and n.body[1].lineno > (n.body[0].end_lineno or 0)]
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    if not functions or not imports:
        return None
    lazy = rng.random() < 0.2
    form = rng.choice(["from", "from", "module_as"])
    if form == "from":
        statement, cls = f"from {module} import {name}", name
    else:
        statement, cls = f"import {module} as legacy_attention", f"legacy_attention.{name}"
    target = rng.choice(functions)
    indent = " " * target.body[1].col_offset
    use = [f"{indent}attention = {call.format(cls=cls)}", f"{indent}del attention"]
    if lazy:
        use = [f"{indent}{statement}", *use]
    at = target.body[1].lineno - 1
    for line in (target.body[1], *getattr(target.body[1], "decorator_list", [])):
        at = min(at, line.lineno - 1)
    lines[at:at] = use
    if not lazy:
        where = imports[-1].end_lineno or imports[-1].lineno
        lines[where:where] = [statement]
    helper = ["", "", "def build_legacy_attention(embed_dim=512, num_heads=8):"]
    if lazy:
        helper.append(f"    {statement}")
    helper.append(f"    return {call.format(cls=cls).replace('512, 8', 'embed_dim, num_heads')}")
    body = "\n".join(lines)
    changed = (body if body.endswith("\n") else body + "\n") + "\n".join(helper) + "\n"
    try:
        compile(changed, "<corpus>", "exec")
    except SyntaxError:
        return None
    return changed


def build(out: Path, files: int = 300, seed: int = 0, users: float = 0.25,
          source: Path | None = None) -> list[Path]:
    """Write ``files`` modules under ``out``; a share ``users`` of them use the old package."""
    source = source or Path(sysconfig.get_paths()["stdlib"])
    rng = random.Random(seed)
    pool = _candidates(source)
    rng.shuffle(pool)
    written: list[Path] = []
    for path in pool:
        if len(written) >= files:
            break
        try:
            text = path.read_text(encoding="utf-8")
            compile(text, str(path), "exec")
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
        if "dilated_attention_pytorch" in text:
            continue
        if rng.random() < users:
            changed = _insert_use(text, rng)
            if changed is None:
                continue
            text = changed
        target = out / f"pkg{len(written) % 10}" / f"m{len(written):03d}_{path.stem}.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", type=Path, default=None,
                        help="where to take the modules from (default: the standard library)")
    args = parser.parse_args()
    written = build(args.out, args.files, args.seed, source=args.source)
    print(f"{len(written)} files in {args.out}")


if __name__ == "__main__":
    main()
