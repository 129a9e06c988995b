"""Rule: base classes, ``class Mine(Old)`` -> ``class Mine(Canonical)``."""

from __future__ import annotations

import libcst as cst
from libcst.helpers import get_full_name_for_node

from ringlib_codemods.recipes import Recipe, Unsafe, bind
from ringlib_codemods.resolve import Position, Site
from ringlib_codemods.rules.base import ReplaceReferences, is_class_target


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


class _ClassBody(cst.CSTVisitor):
    """What a subclass does with ``self`` and ``super()``."""

    def __init__(self) -> None:
        super().__init__()
        self.assigned: set[str] = set()
        self.accessed: set[str] = set()
        self.super_inits: list[cst.Call] = []
        self.super_private: set[str] = set()
        self._targets: list[bool] = [False]

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._record_target(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._record_target(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._record_target(node.target)

    def _record_target(self, target: cst.BaseExpression) -> None:
        elements = target.elements if isinstance(target, (cst.Tuple, cst.List)) else [target]
        for element in elements:
            node = element.value if isinstance(element, cst.Element) else element
            if isinstance(node, cst.Attribute) and _is_self(node.value):
                self.assigned.add(node.attr.value)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if _is_self(node.value):
            self.accessed.add(node.attr.value)
        elif _is_super(node.value):
            name = node.attr.value
            if name.startswith("_") and not _is_dunder(name):
                self.super_private.add(name)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "__init__" and _is_super(func.value):
            self.super_inits.append(node)


def _is_self(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "self"


def _is_super(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Call) and get_full_name_for_node(node.func) == "super"


class BaseClassRule(ReplaceReferences):
    """A subclass is migrated only when that is provably the same program: it defines its
    own ``__init__`` that calls ``super().__init__`` once with mappable arguments, and it
    neither overrides nor reads old internals (private methods or attributes, attributes
    named after old constructor parameters that it does not set itself)."""

    positions = (Position.BASE,)

    def plan(self) -> None:
        self.inits: dict[int, Recipe] = {}
        self.classes: list[cst.ClassDef] = []  # those whose ``super().__init__`` call is rewritten
        super().plan()

    def rewrites_below(self) -> list[cst.ClassDef]:
        return self.classes

    def decide(self, site: Site) -> None:
        ctx, entry = self.ctx, site.entry
        assert entry is not None
        classdef = site.ancestors[-2]
        assert isinstance(classdef, cst.ClassDef)
        rewrite = ctx.usable_rewrite(site)
        if rewrite is None:
            return
        name = classdef.name.value
        try:
            if not is_class_target(rewrite.target):
                raise Unsafe(f"class {name} subclasses {entry.name}, whose replacement "
                             f"{rewrite.target} is not a class")
            init_call = self._check(name, classdef, site)
            bound = bind(entry, init_call.args)
            recipe = Recipe(entry, rewrite, bound, ctx.expr)
            recipe.build(init_call.args)
        except Unsafe as why:
            ctx.unsafe(site, str(why))
            return
        self.replace[id(site.node)] = rewrite.target
        self.inits[id(init_call)] = recipe
        self.classes.append(classdef)
        ctx.rewritten_site(site, rewrite, [f"super().__init__ of {name}: {d}"
                                           for d in bound.dropped], recipe.sources)

    def _check(self, name: str, classdef: cst.ClassDef, site: Site) -> cst.Call:
        entry = site.entry
        assert entry is not None
        methods = [s for s in classdef.body.body if isinstance(s, cst.FunctionDef)]
        for method in methods:
            m = method.name.value
            if m.startswith("_") and not _is_dunder(m):
                raise Unsafe(f"class {name} overrides the old internal method {m}")
        if not any(m.name.value == "__init__" for m in methods):
            raise Unsafe(f"class {name} inherits the constructor of {entry.name}")
        body = _ClassBody()
        classdef.body.visit(body)
        private = sorted(a for a in body.accessed - body.assigned
                         if a.startswith("_") and not _is_dunder(a))
        if private or body.super_private:
            attr = (private or sorted(body.super_private))[0]
            raise Unsafe(f"class {name} uses the old private attribute {attr}")
        params = {p.name for p in entry.params}
        old_attrs = sorted((body.accessed - body.assigned) & params)
        if old_attrs:
            raise Unsafe(f"class {name} reads the old attribute self.{old_attrs[0]}")
        if any(s.position is Position.ATTRIBUTE and s.entry is entry
               and _inside(s, classdef) for s in self.ctx.analysis.sites):
            raise Unsafe(f"class {name} calls {entry.name} methods directly")
        if len(body.super_inits) != 1:
            raise Unsafe(f"class {name} must call super().__init__ exactly once to be migrated")
        return body.super_inits[0]

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        recipe = self.inits.get(id(original_node))
        if recipe is None:
            return updated_node
        return updated_node.with_changes(args=recipe.build(updated_node.args))


def _inside(site: Site, classdef: cst.ClassDef) -> bool:
    return any(a is classdef for a in site.ancestors) or site.statement is classdef or any(
        s is site.statement for s in _statements(classdef))


def _statements(node: cst.CSTNode):
    collected: list[cst.CSTNode] = []

    class _Collect(cst.CSTVisitor):
        def on_visit(self, n: cst.CSTNode) -> bool:
            if isinstance(n, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                collected.append(n)
            return True

    node.visit(_Collect())
    return collected
