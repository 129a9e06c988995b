"""ringlib: one correct, fast implementation of dilated, block-sparse and ring attention.

The public surface is loaded lazily (PEP 562) so that light consumers such as the
``ringlib`` command line (``migrate``, ``list``) start without importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ringlib.deprecation import RinglibDeprecationWarning

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "attention": "ringlib.functional",
    "Pattern": "ringlib.patterns",
    "AttentionCore": "ringlib.cores",
    "Dense": "ringlib.patterns",
    "Dilated": "ringlib.patterns",
    "BlockSparse": "ringlib.blocksparse",
    "AdaptiveBlockSparseAttention": "ringlib.adaptive",
    "DilatedAttention": "ringlib.modules",
    "MultiheadDilatedAttention": "ringlib.modules",
    "MultiheadAttention": "ringlib.modules",
    "shard_sequence": "ringlib.ring",
    "gather_sequence": "ringlib.ring",
    "kernel_options": "ringlib.dispatch",
    "KernelOptions": "ringlib.dispatch",
}
_SUBMODULES = {"adaptive", "compat", "orderings", "backends", "ring", "lse", "dispatch", "models"}

__all__ = ["RinglibDeprecationWarning", "__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"ringlib.{name}")
    raise AttributeError(f"module 'ringlib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBMODULES})


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ringlib.adaptive import AdaptiveBlockSparseAttention
    from ringlib.blocksparse import BlockSparse
    from ringlib.cores import AttentionCore
    from ringlib.dispatch import KernelOptions, kernel_options
    from ringlib.functional import attention
    from ringlib.modules import DilatedAttention, MultiheadAttention, MultiheadDilatedAttention
    from ringlib.patterns import Dense, Dilated, Pattern
    from ringlib.ring import gather_sequence, shard_sequence
