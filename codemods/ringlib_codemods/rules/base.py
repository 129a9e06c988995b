"""The rule interface: ``plan`` decides per site, ``leave_*`` methods apply the decisions."""

from __future__ import annotations

from typing import ClassVar, Iterable

import libcst as cst

from ringlib_legacy.schema import Rewrite
from ringlib_codemods.context import Context
from ringlib_codemods.resolve import Position, Site


class Rule(cst.CSTTransformer):
    """One reference position (calls, base classes, ...), as one libcst transformer.

    All rules of a file share one name resolution (``ctx.analysis``) and run in one
    traversal (``pipeline.Pipeline``); each looks up its decisions by the *original* node.
    """

    positions: ClassVar[tuple[Position, ...]] = ()
    #: the node types a rule's generic ``on_leave`` acts on (the traversal calls it for no other)
    leave_types: ClassVar[tuple[type, ...]] = (cst.CSTNode,)

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx

    def plan(self) -> None:
        for site in self.ctx.sites(*self.positions):
            if id(site) not in self.ctx.claimed:
                self.decide(site)

    def decide(self, site: Site) -> None:  # pragma: no cover - every rule overrides it
        raise NotImplementedError

    def rewrites_below(self) -> Iterable[cst.CSTNode]:
        """Nodes whose whole subtree the transform must visit for this rule: where it
        rewrites a node that is neither a site nor above one (``pipeline.Pipeline``)."""
        return ()


def is_class_target(target: str) -> bool:
    """Recipe targets that name a class (usable in isinstance, bases, annotations)."""
    return target.rsplit(".", 1)[-1][:1].isupper()


class ReplaceReferences(Rule):
    """Shared mechanics for rules that swap a reference expression for the canonical one."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.replace: dict[int, str] = {}  # id(original reference node) -> target source

    def class_rewrite(self, site: Site, where: str) -> Rewrite | None:
        """The usable recipe for a position that needs a class (``where`` says which, e.g.
        "annotation Old"), or None after recording why there is none."""
        rewrite = self.ctx.usable_rewrite(site)
        if rewrite is not None and not is_class_target(rewrite.target):
            self.ctx.unsafe(site, f"{where}: its replacement {rewrite.target} is not a class")
            return None
        return rewrite

    def _swap(self, original: cst.CSTNode, updated: cst.CSTNode) -> cst.CSTNode:
        target = self.replace.get(id(original))
        if target is None:
            return updated
        new = self.ctx.expr(target)
        if isinstance(updated, (cst.Name, cst.Attribute)) and (updated.lpar or updated.rpar):
            new = new.with_changes(lpar=updated.lpar, rpar=updated.rpar)
        return new

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        return self._swap(original_node, updated_node)

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute
                        ) -> cst.BaseExpression:
        return self._swap(original_node, updated_node)
