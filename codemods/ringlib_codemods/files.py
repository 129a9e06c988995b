"""Files on disk: discovery (``.gitignore``, excludes, symlinks), atomic writes, notebooks."""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import pathspec

SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")
DEFAULT_EXCLUDES = (
    ".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", "__pycache__", "node_modules",
    "site-packages", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints",
    "*.egg-info", "build", "dist",
)


@dataclass
class Discovery:
    """The files to process, and what was passed over with a reason (reported)."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # warnings
    errors: list[tuple[Path, str]] = field(default_factory=list)


def _spec(lines: Iterable[str]) -> pathspec.PathSpec:
    return pathspec.GitIgnoreSpec.from_lines(list(lines))


class _Ignores:
    """``.gitignore`` files from the repository root down to each directory."""

    def __init__(self, start: Path) -> None:
        self.root = _git_root(start)
        self.cache: dict[Path, pathspec.PathSpec | None] = {}

    def _at(self, directory: Path) -> pathspec.PathSpec | None:
        if directory not in self.cache:
            file = directory / ".gitignore"
            try:
                self.cache[directory] = _spec(file.read_text("utf-8", "replace").splitlines())
            except OSError:
                self.cache[directory] = None
        return self.cache[directory]

    def ignored(self, path: Path, is_dir: bool) -> bool:
        if self.root is None:
            return False
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            return False
        directory = self.root
        parts = rel.parts
        for i in range(len(parts)):
            spec = self._at(directory)
            if spec is not None:
                sub = "/".join(parts[i:]) + ("/" if is_dir else "")
                if spec.match_file(sub):
                    return True
            directory = directory / parts[i]
        return False


def _git_root(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def discover(paths: Iterable[Path], exclude: Iterable[str] = (),
             base: Path | None = None) -> Discovery:
    """Python files and notebooks under ``paths``.

    Directories are walked with ``.gitignore`` honoured and the default excludes applied;
    files named explicitly are always taken (pre-commit passes them one by one) unless an
    ``--exclude`` pattern matches. Symlinks are never followed: they are reported.
    """
    found = Discovery()
    base = (base or Path.cwd()).absolute()
    user = _spec(exclude)
    defaults = _spec(DEFAULT_EXCLUDES)
    seen: set[Path] = set()

    roots = [base]

    def excluded(path: Path, is_dir: bool) -> bool:
        """Patterns match paths relative to the project (or working directory) and to the
        PATH argument being walked, like a .gitignore at either place."""
        suffix = "/" if is_dir else ""
        if user.match_file(path.name + suffix):
            return True
        for root in roots:
            try:
                rel = path.absolute().relative_to(root).as_posix()
            except ValueError:
                continue
            if user.match_file(rel + suffix):
                return True
        return False

    for raw in paths:
        path = Path(raw)
        if path.is_symlink():
            found.skipped.append((path, "symlink, not followed"))
            continue
        if not path.exists():
            found.errors.append((path, "no such file or directory"))
            continue
        if path.is_dir():
            roots[1:] = [path.absolute()]
            ignores = _Ignores(path.absolute())
            for file in _walk(path, ignores, defaults, excluded, found):
                if file.absolute() not in seen:
                    seen.add(file.absolute())
                    found.files.append(file)
        elif not excluded(path, False) and path.absolute() not in seen:
            seen.add(path.absolute())
            found.files.append(path)
    return found


def _walk(root: Path, ignores: _Ignores, defaults, excluded, found: Discovery) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as error:
        found.errors.append((root, f"cannot list directory: {error.strerror}"))
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.is_symlink():
            if entry.name.endswith(SOURCE_SUFFIXES) or _is_dir(path):
                found.skipped.append((path, "symlink, not followed"))
            continue
        is_dir = entry.is_dir(follow_symlinks=False)
        if defaults.match_file(entry.name + ("/" if is_dir else "")):
            continue
        if ignores.ignored(path.absolute(), is_dir) or excluded(path, is_dir):
            continue
        if is_dir:
            yield from _walk(path, ignores, defaults, excluded, found)
        elif entry.name.endswith(SOURCE_SUFFIXES):
            yield path


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same directory and a rename: never half a file.

    The file's permission bits are kept.
    """
    mode = stat.S_IMODE(os.stat(path).st_mode)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".ringlib-tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


# -- notebooks -------------------------------------------------------------------------------
_MAGIC = re.compile(r"^(\s*)([%!].*)$")
_MARK = "#ringlib-cell:"
_WS = re.compile(r"[ \t\n\r]*")
#: cell magics whose body is Python run in the notebook's namespace: their body is migrated
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})


def _skip(text: str, i: int) -> int:
    return _WS.match(text, i).end()


def _object_values(text: str, i: int) -> Iterator[tuple[str, int, int]]:
    """``(key, start, end)`` of each value of the JSON object starting at ``text[i]``."""
    decoder = json.JSONDecoder()
    if text[i] != "{":
        raise ValueError("expected a JSON object")
    i = _skip(text, i + 1)
    if text[i] == "}":
        return
    while True:
        key, i = json.decoder.scanstring(text, i + 1)
        i = _skip(text, _skip(text, i) + 1)  # past ':'
        _, end = decoder.raw_decode(text, i)
        yield key, i, end
        i = _skip(text, end)
        if text[i] == "}":
            return
        i = _skip(text, i + 1)  # past ','


def _array_items(text: str, i: int) -> Iterator[tuple[int, int]]:
    decoder = json.JSONDecoder()
    if text[i] != "[":
        raise ValueError("expected a JSON array")
    i = _skip(text, i + 1)
    if text[i] == "]":
        return
    while True:
        _, end = decoder.raw_decode(text, i)
        yield i, end
        i = _skip(text, end)
        if text[i] == "]":
            return
        i = _skip(text, i + 1)


@dataclass
class _Cell:
    index: int  # position in the notebook's cells
    text: str  # the cell's source as one string
    span: tuple[int, int]  # where its "source" value is in the file's text
    as_list: bool  # source stored as a list of lines (nbformat's usual form)
    hidden: list[str] = field(default_factory=list)  # magic and shell lines, masked
    whole_magic: bool = False  # a non-Python cell magic: the cell is not Python at all
    added_newline: bool = False


@dataclass
class Notebook:
    """A notebook's code cells as one module (one namespace, as when it runs), and the way
    back: only the ``source`` values of changed cells are replaced in the file's text, so
    indentation, key order, escapes and the final newline stay byte for byte.

    Line magics and shell lines (``%matplotlib``, ``!pip``) become ``pass`` lines carrying
    their text; a Python cell magic (``%%time``) hides its first line only, so its body is
    migrated; any other cell magic hides the whole cell (``flag`` reports old names in it).
    """

    text: str
    cells: list[_Cell]
    code: str

    @classmethod
    def parse(cls, data: bytes) -> "Notebook":
        text = data.decode("utf-8")
        json.loads(text)  # a clear error for what is not JSON at all
        cells: list[_Cell] = []
        start = _skip(text, 0)
        for key, begin, _ in _object_values(text, start):
            if key != "cells":
                continue
            for n, (cell_start, _) in enumerate(_array_items(text, begin)):
                values = {k: (b, e) for k, b, e in _object_values(text, cell_start)}
                kind = json.loads(text[slice(*values["cell_type"])]) if "cell_type" in values else ""
                if kind != "code" or "source" not in values:
                    continue
                span = values["source"]
                source = json.loads(text[slice(*span)])
                as_list = isinstance(source, list)
                cells.append(_Cell(n, "".join(source) if as_list else source, span, as_list))
        chunks = [f"{_MARK}{position}\n" + _mask(cell) for position, cell in enumerate(cells)]
        return cls(text, cells, "".join(chunks))

    def flag(self, index) -> list[str]:
        """Reasons to look at magic or shell lines by hand: they name the old package or an
        old name, and the codemod cannot rewrite what is not Python."""
        names = [*index.packages, *(e.name for e in index.entries)]
        pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, names)) + r")(?!\w)") \
            if names else None
        reasons = []
        for cell in self.cells:
            for piece in cell.hidden[1:] if self._python_magic(cell) else cell.hidden:
                found = pattern.search(piece) if pattern else None
                if found:
                    first = piece.strip().splitlines()[0]
                    reasons.append(f"cell {cell.index + 1}: {found.group(1)} in IPython magic or "
                                   f"shell code ({first[:60]!r}): migrate it by hand")
        return reasons

    @staticmethod
    def _python_magic(cell: _Cell) -> bool:
        return bool(cell.hidden) and not cell.whole_magic and cell.text.lstrip().startswith("%%")

    def restore(self, code: str) -> bytes:
        """The file's bytes with the migrated cells put back."""
        pieces = re.split(rf"^{re.escape(_MARK)}(\d+)\n", code, flags=re.MULTILINE)
        preamble = pieces[0]  # code added above the first marker joins the first cell
        out, last = [], 0
        style = _Style.of(self.text)
        for position, body in zip(pieces[1::2], pieces[2::2]):
            cell = self.cells[int(position)]
            if preamble:
                body, preamble = preamble + body, ""
            new = _unmask(cell, body)
            if new == cell.text:
                continue
            start, end = cell.span
            value = new.splitlines(keepends=True) if cell.as_list else new
            out += [self.text[last:start], style.dump(value, self.text, start)]
            last = end
        out.append(self.text[last:])
        return "".join(out).encode("utf-8")


def _mask(cell: _Cell) -> str:
    text = cell.text
    lines = text.split("\n")
    if text.lstrip().startswith("%%"):
        first = text.lstrip().split(None, 1)[0][2:]
        if first not in PYTHON_CELL_MAGICS:
            cell.whole_magic = True
            cell.hidden.append(text)
            lines = [f"pass  {_MARK}magic:0"]
        else:
            lead = len(text) - len(text.lstrip())
            head, _, rest = text[lead:].partition("\n")
            cell.hidden.append(text[:lead] + head)
            lines = [f"pass  {_MARK}magic:0", *rest.split("\n")]
            lines = [lines[0], *(_mask_line(cell, line) for line in lines[1:])]
    else:
        lines = [_mask_line(cell, line) for line in lines]
    body = "\n".join(lines)
    cell.added_newline = not body.endswith("\n")
    return body + ("\n" if cell.added_newline else "")


def _mask_line(cell: _Cell, line: str) -> str:
    match = _MAGIC.match(line)
    if not match:
        return line
    cell.hidden.append(match.group(2))
    return f"{match.group(1)}pass  {_MARK}magic:{len(cell.hidden) - 1}"


def _unmask(cell: _Cell, body: str) -> str:
    if cell.added_newline and body.endswith("\n"):
        body = body[:-1]
    if cell.whole_magic:
        return cell.text
    return re.sub(rf"^(\s*)pass  {re.escape(_MARK)}magic:(\d+)$",
                  lambda m: m.group(1) + cell.hidden[int(m.group(2))], body, flags=re.MULTILINE)


@dataclass(frozen=True)
class _Style:
    """How the file's JSON was written: indent and ``ensure_ascii``."""

    indent: int | None
    ensure_ascii: bool

    @classmethod
    def of(cls, text: str) -> "_Style":
        match = re.search(r"\n( *)\S", text)
        return cls(len(match.group(1)) if match else None, text.isascii())

    def dump(self, value, text: str, start: int) -> str:
        """``value`` as JSON, its lines indented like the line it starts on."""
        dumped = json.dumps(value, indent=self.indent, ensure_ascii=self.ensure_ascii)
        line_start = text.rfind("\n", 0, start) + 1
        base = text[line_start:len(text) - len(text[line_start:].lstrip(" "))]
        return dumped.replace("\n", "\n" + base)
