"""The on-disk record: one directory, readable by people and by ``compare``.

    DIR/manifest.json                 format, what was recorded (full tensors, gradients, seed), versions
    DIR/calls/<slug>.json             one scope (a test id or a script): {"scope": ..., "calls": [...]}
    DIR/tensors/<slug>/<i>-<label>.pt full tensors (``--ringlib-parity-full``), flattened, on CPU

One file per scope lets parallel test workers write side by side. ``<slug>`` is the scope
made file-safe plus a short hash of the exact scope, so two scopes never share a file.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

from ringlib_parity.usercode.recorder import Call

FORMAT = "ringlib-parity-usercode/1"
MANIFEST = "manifest.json"


class RecordError(ValueError):
    """The directory holds no record, or one this version cannot read."""


def slug(scope: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", scope).strip("_")[-80:]
    return f"{readable}-{hashlib.sha1(scope.encode()).hexdigest()[:10]}"


def start(root: Path, *, full: bool, grads: bool, seed: int | None = None, fresh: bool) -> None:
    """Create the record directory (emptied when ``fresh``) and its manifest."""
    import torch

    import ringlib

    root = Path(root)
    if fresh and root.exists():
        if not (root / MANIFEST).exists() and any(root.iterdir()):
            raise RecordError(f"{root} is not empty and holds no parity record; refusing to overwrite it")
        shutil.rmtree(root)
    (root / "calls").mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "full": full, "grads": grads, "seed": seed, "torch": torch.__version__,
                "ringlib": ringlib.__version__}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


def manifest(root: Path) -> dict:
    path = Path(root) / MANIFEST
    if not path.exists():
        raise RecordError(f"{root} holds no parity record ({MANIFEST} is missing); record one first")
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise RecordError(f"{path}: format {data.get('format')!r}, expected {FORMAT!r}")
    return data


def write(root: Path, scope: str, calls: list[Call]) -> None:
    import torch

    root, name = Path(root), slug(scope)
    for call in calls:
        for (kind, j), tensor in call.tensors.items():
            relative = f"tensors/{name}/{call.index}-{kind}{j}.pt"
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            torch.save(tensor, root / relative)
            getattr(call, kind)[j].full = relative
    data = {"scope": scope, "calls": [c.to_json() for c in calls]}
    (root / "calls" / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def read(root: Path, scope: str) -> list[Call] | None:
    """The recorded calls of ``scope``; None when it was not recorded."""
    path = Path(root) / "calls" / f"{slug(scope)}.json"
    if not path.exists():
        return None
    return [Call.from_json(c) for c in json.loads(path.read_text(encoding="utf-8"))["calls"]]


def scopes(root: Path) -> list[str]:
    return sorted(json.loads(p.read_text(encoding="utf-8"))["scope"] for p in (Path(root) / "calls").glob("*.json"))


def load_full(root: Path, relative: str | None):
    import torch

    return None if relative is None else torch.load(Path(root) / relative, weights_only=True)
