"""``ringlib parity``: does the new code compute what the old code computed? Answered with numbers.

For every legacy name of the registry (and every canonical pattern) over a matrix of
configurations, ``check`` verifies that the shim equals the codemod's rewrite bit for bit,
that every backend agrees with the float64 reference under flash-attention's tolerance rule
(``ringlib_parity.tolerance``), forward and backward, and, given the original package, how
the original compares (EQUIVALENT / DIVERGES / LEGACY-FAILED). Use it from pytest::

    import ringlib_parity

    def test_my_model_names_keep_their_numbers():
        report = ringlib_parity.check(names=["RingDilatedAttentionCorrect"], dtypes=["float32"])
        assert report.ok, [str(r) for r in report.failures]

The names below load lazily (PEP 562): the pytest plugin of ``ringlib_parity.usercode`` is
imported by every pytest run and must stay light while it is off.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    **dict.fromkeys(("CPU", "CUDA", "Matrix", "Shape"), "ringlib_parity.matrix"),
    **dict.fromkeys(("DIVERGES", "EQUIVALENT", "ERROR", "FAIL", "LEGACY_FAILED", "PASS", "SKIP", "UNEXPLAINED",
                     "Report", "Result"), "ringlib_parity.report"),
    **dict.fromkeys(("available_backends", "check"), "ringlib_parity.runner"),
    "K": "ringlib_parity.tolerance",
}

__all__ = ["check", "Report", "Result", "Matrix", "Shape", "CPU", "CUDA", "K", "available_backends",
           "PASS", "FAIL", "ERROR", "SKIP", "EQUIVALENT", "DIVERGES", "LEGACY_FAILED", "UNEXPLAINED"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ringlib_parity' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
