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
"""

from ringlib_parity.matrix import CPU, CUDA, Matrix, Shape
from ringlib_parity.report import (
    DIVERGES,
    EQUIVALENT,
    ERROR,
    FAIL,
    LEGACY_FAILED,
    PASS,
    SKIP,
    UNEXPLAINED,
    Report,
    Result,
)
from ringlib_parity.runner import available_backends, check
from ringlib_parity.tolerance import K

__all__ = ["check", "Report", "Result", "Matrix", "Shape", "CPU", "CUDA", "K", "available_backends",
           "PASS", "FAIL", "ERROR", "SKIP", "EQUIVALENT", "DIVERGES", "LEGACY_FAILED", "UNEXPLAINED"]
