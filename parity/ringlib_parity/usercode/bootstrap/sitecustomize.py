"""Put first on PYTHONPATH by ``ringlib parity --record/--compare -- COMMAND``: Python imports
this module at start-up, so the recorder is on before the user's script runs. Only the process
the command starts records (the settings are taken out of the environment here); any other
``sitecustomize`` on the path still runs.
"""

import importlib.machinery
import importlib.util
import os
import sys

if os.environ.get("RINGLIB_PARITY_RECORD"):
    from ringlib_parity.usercode import script

    script.activate()


def _chain() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    others = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


_chain()
