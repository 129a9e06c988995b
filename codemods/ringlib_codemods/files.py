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


def notebook_source(data: bytes) -> tuple[dict, str, list[list[str]]]:
    """The code cells of a notebook joined into one module (one namespace, as when it runs).

    Cells are separated by marker comments; IPython line magics become ``pass`` lines that
    carry their text, cell magics (``%%``) hide the whole cell. ``restore_notebook`` undoes it.
    """
    notebook = json.loads(data.decode("utf-8"))
    chunks: list[str] = []
    magics: list[list] = []
    for i, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else source
        hidden: list[str] = []
        lines = []
        if text.lstrip().startswith("%%"):
            hidden.append(text)
            lines = [f"pass  {_MARK}magic:0"]
        else:
            for line in text.split("\n"):
                match = _MAGIC.match(line)
                if match:
                    hidden.append(match.group(2))
                    lines.append(f"{match.group(1)}pass  {_MARK}magic:{len(hidden) - 1}")
                else:
                    lines.append(line)
        body = "\n".join(lines)
        added = not body.endswith("\n")
        magics.append([*hidden, added])
        chunks.append(f"{_MARK}{i}\n" + body + ("\n" if added else ""))
    return notebook, "".join(chunks), magics


def restore_notebook(notebook: dict, code: str, magics: list[list]) -> bytes:
    """Split migrated code back into the cells it came from."""
    cells = notebook.get("cells", [])
    pieces = re.split(rf"^{re.escape(_MARK)}(\d+)\n", code, flags=re.MULTILINE)
    # pieces: [preamble, index, text, index, text, ...]; code added before the first marker
    # (none is expected: new imports go next to old ones) joins the first cell.
    preamble = pieces[0]
    for n, (index, text) in enumerate(zip(pieces[1::2], pieces[2::2])):
        cell = cells[int(index)]
        *hidden, added = magics[n]
        if preamble:
            text, preamble = preamble + text, ""
        if added and text.endswith("\n"):
            text = text[:-1]

        def unmask(match: re.Match[str], hidden=hidden) -> str:
            return match.group(1) + hidden[int(match.group(2))]

        original = cell.get("source", "")
        was = "".join(original) if isinstance(original, list) else original
        if was.lstrip().startswith("%%"):
            new = was
        else:
            new = re.sub(rf"^(\s*)pass  {re.escape(_MARK)}magic:(\d+)$", unmask, text,
                         flags=re.MULTILINE)
        if new != was:
            cell["source"] = new.splitlines(keepends=True) if isinstance(original, list) else new
    return (json.dumps(notebook, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
