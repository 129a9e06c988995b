"""Defaults from ``[tool.ringlib.migrate]`` in the nearest pyproject.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

KEYS = {"semantics": str, "select": list, "ignore": list, "exclude": list, "jobs": int,
        "report": str, "quiet": bool}


class ConfigError(ValueError):
    """A malformed ``[tool.ringlib.migrate]`` table."""


def find_pyproject(paths: Sequence[Path]) -> Path | None:
    """The nearest pyproject.toml above the paths that has a ``[tool.ringlib.migrate]``
    table; the search stops at the repository root."""
    starts = [p.absolute() if p.is_dir() else p.absolute().parent for p in paths] or [Path.cwd()]
    start = Path(*Path(starts[0]).parts)
    for other in starts[1:]:
        while start not in (other, *other.parents):
            start = start.parent
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file() and load(candidate):
            return candidate
        if (directory / ".git").exists():
            break
    return None


def load(pyproject: Path) -> dict[str, Any]:
    """The validated ``[tool.ringlib.migrate]`` table (empty if there is none)."""
    try:
        data = tomllib.loads(pyproject.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{pyproject}: {error}") from error
    table = data.get("tool", {}).get("ringlib", {}).get("migrate", {})
    for key, value in table.items():
        kind = KEYS.get(key)
        if kind is None:
            raise ConfigError(f"{pyproject}: unknown key tool.ringlib.migrate.{key} "
                              f"(known: {', '.join(sorted(KEYS))})")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{pyproject}: tool.ringlib.migrate.{key} must be a {kind.__name__}")
        if kind is list and not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{pyproject}: tool.ringlib.migrate.{key} must list strings")
    if table.get("semantics", "preserve") not in ("preserve", "intended"):
        raise ConfigError(f"{pyproject}: tool.ringlib.migrate.semantics must be "
                          "'preserve' or 'intended'")
    return table
