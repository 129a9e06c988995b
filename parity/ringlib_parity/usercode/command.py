"""``ringlib parity --record DIR -- COMMAND`` / ``--compare DIR -- COMMAND``: parity for scripts.

The command runs as a child process with ``bootstrap/`` first on its PYTHONPATH, so Python
starts the recorder before the script (``script``). ``--record`` writes the child's calls to
DIR; ``--compare`` records them to a temporary directory with DIR's settings (full tensors,
gradients, seed) and compares the two. A script is one scope, named by the command without
its interpreter (``train.py --epochs 1``) unless ``scope`` says otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ringlib_parity.usercode import compare as comparing
from ringlib_parity.usercode import script, store
from ringlib_parity.usercode.report import Report

BOOTSTRAP = Path(__file__).resolve().parent / "bootstrap"


def default_scope(command: list[str]) -> str:
    return " ".join(command[1:]) or command[0]


def _run(command: list[str], directory: Path, scope: str, *, full: bool, grads: bool, seed: int | None) -> int:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(BOOTSTRAP), *filter(None, [env.get("PYTHONPATH")])])
    env.update(script.environment(directory, scope, full=full, grads=grads, seed=seed))
    return subprocess.run(command, env=env).returncode


def record(command: list[str], directory: Path, *, scope: str | None = None, full: bool = False,
           grads: bool = False, seed: int | None = None, console=None) -> int:
    """Run ``command`` and record its attention calls in ``directory`` (replaced)."""
    scope = scope or default_scope(command)
    store.start(directory, full=full, grads=grads, seed=seed, fresh=True)
    code = _run(command, directory, scope, full=full, grads=grads, seed=seed)
    calls = store.read(directory, scope)
    if calls is None:
        _say(console, f"[red]ringlib parity: {command[0]} recorded nothing (is ringlib installed in the "
                      "interpreter it runs?)[/]")
        return code or 1
    _say(console, f"ringlib parity: recorded {len(calls)} attention calls of `{scope}` to {directory}")
    return code


def compare(command: list[str], directory: Path, *, scope: str | None = None, semantics: str | None = None,
            json_file: Path | None = None, junit_file: Path | None = None, console=None) -> int:
    """Run ``command`` again and compare its calls with those recorded in ``directory``:
    0 when every call is bitwise or expected, 1 otherwise (or the command's own failure)."""
    scope = scope or default_scope(command)
    manifest = store.manifest(directory)
    semantics = semantics or comparing.configured_semantics(Path.cwd())
    current = Path(tempfile.mkdtemp(prefix="ringlib-parity-"))
    try:
        store.start(current, full=manifest["full"], grads=manifest["grads"], seed=manifest.get("seed"), fresh=False)
        code = _run(command, current, scope, full=manifest["full"], grads=manifest["grads"], seed=manifest.get("seed"))
        now = store.read(current, scope)
        if now is None:
            _say(console, f"[red]ringlib parity: {command[0]} recorded nothing (is ringlib installed in the "
                          "interpreter it runs?)[/]")
            return code or 1
        verdict = comparing.compare_scope(scope, store.read(directory, scope), now, semantics=semantics,
                                          old_root=directory, new_root=current)
        report = Report([verdict], semantics=semantics, unit="scripts")
        if console is not None:
            report.render(console)
        if json_file:
            report.write_json(json_file)
        if junit_file:
            report.write_junit(junit_file)
    finally:
        shutil.rmtree(current, ignore_errors=True)
    if code:
        _say(console, f"[red]ringlib parity: the command exited with {code}[/]")
        return code
    return 0 if report.ok and verdict.recorded else 1


def _say(console, text: str) -> None:
    if console is not None:
        console.print(text)
