"""The recorder inside a script's process (started by ``bootstrap/sitecustomize.py``).

The parent (``command``) passes its settings in ``RINGLIB_PARITY_*`` environment variables;
they are removed here so that processes the script starts do not record into the same scope.
The whole process is one scope; its calls are written when the interpreter exits.
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path

ENV = ("RINGLIB_PARITY_RECORD", "RINGLIB_PARITY_SCOPE", "RINGLIB_PARITY_FULL", "RINGLIB_PARITY_GRADS",
       "RINGLIB_PARITY_SEED")


def environment(directory: Path, scope: str, *, full: bool, grads: bool, seed: int | None) -> dict[str, str]:
    """The variables that make a child process record into ``directory``."""
    return {"RINGLIB_PARITY_RECORD": str(directory), "RINGLIB_PARITY_SCOPE": scope,
            "RINGLIB_PARITY_FULL": "1" if full else "", "RINGLIB_PARITY_GRADS": "1" if grads else "",
            "RINGLIB_PARITY_SEED": "" if seed is None else str(seed)}


def activate() -> None:
    from ringlib_parity.usercode import store
    from ringlib_parity.usercode.recorder import Recorder

    settings = {name: os.environ.pop(name, "") for name in ENV}
    directory, scope = Path(settings["RINGLIB_PARITY_RECORD"]), settings["RINGLIB_PARITY_SCOPE"]
    recorder = Recorder(full=bool(settings["RINGLIB_PARITY_FULL"]), grads=bool(settings["RINGLIB_PARITY_GRADS"]))
    if settings["RINGLIB_PARITY_SEED"]:
        import random

        import torch

        random.seed(int(settings["RINGLIB_PARITY_SEED"]))
        torch.manual_seed(int(settings["RINGLIB_PARITY_SEED"]))
    recorder.install().begin(scope)
    atexit.register(lambda: store.write(directory, scope, recorder.end()))
