"""``Binding``: one name bound by an import of the old package, shared by the full (libcst
scope) and the light name resolution."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
from libcst.helpers import get_full_name_for_node


@dataclass(eq=False)
class Binding:
    """One name bound by an import of an old module or name."""

    assignments: list  # libcst ImportAssignments (full resolution) or the bound dotted names
    path: str  # normalized old dotted path the bound name denotes
    alias: cst.ImportAlias
    statement: cst.Import | cst.ImportFrom
    scope: object  # a libcst Scope, or the light pass's ModuleScope
    order: int = 0  # document order of the import statement
    light_references: list | None = None  # filled by the light pass

    @property
    def references(self) -> list:
        """The accesses (objects with ``node``, ``is_annotation``, ``referents``)."""
        if self.light_references is not None:
            return self.light_references
        return [a for assignment in self.assignments for a in assignment.references]

    @property
    def bound_name(self) -> str:
        target = self.alias.asname.name if self.alias.asname else self.alias.name
        return get_full_name_for_node(target) or ""
