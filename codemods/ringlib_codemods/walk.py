"""A plain walk over a libcst subtree, for the read-only questions rules ask of new code.

libcst's visitors dispatch two hooks per node through ``getattr``; a question such as "which
comments are under this node" or "does this statement name ``build_x``" needs neither, and a
walk over the dataclass fields answers it several times faster.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import libcst as cst

_FIELDS: dict[type, tuple[str, ...]] = {}


def descendants(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """``node`` and every node below it, in no particular order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        kind = type(current)
        names = _FIELDS.get(kind)
        if names is None:
            names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(current))  # type: ignore[arg-type]
        for name in names:
            value = getattr(current, name)
            if isinstance(value, cst.CSTNode):
                stack.append(value)
            elif isinstance(value, (list, tuple)):
                stack.extend(v for v in value if isinstance(v, cst.CSTNode))
