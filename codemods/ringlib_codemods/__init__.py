"""``ringlib migrate``: a lossless libcst codemod from ``dilated_attention_pytorch`` 0.2 to ringlib.

Library entry points (the command line in ``ringlib_cli`` is a thin layer over them):

* ``migrate_code(source, index, semantics=..., path=...)``: one module's source.
* ``run(paths, Options(...))``: files and directories, with a process pool and a report.

Everything about old names comes from ``ringlib_legacy.registry`` (see ``LegacyIndex``).
"""

from ringlib_codemods.context import COMMENT_PREFIX, Item
from ringlib_codemods.index import LegacyIndex, SelectionError
from ringlib_codemods.pipeline import SourceResult, migrate_code
from ringlib_codemods.runner import EXIT_ERROR, EXIT_OK, EXIT_PENDING, Options, RunResult, run

__all__ = [
    "COMMENT_PREFIX",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_PENDING",
    "Item",
    "LegacyIndex",
    "Options",
    "RunResult",
    "SelectionError",
    "SourceResult",
    "migrate_code",
    "run",
]
