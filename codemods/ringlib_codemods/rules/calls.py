"""Rule: constructor and function calls, ``Old(...)`` -> the registry's canonical call."""

from __future__ import annotations

import libcst as cst
from libcst.helpers import get_full_name_for_node

from ringlib_codemods.excerpt import WholeModule
from ringlib_codemods.recipes import Recipe, Unsafe, bind
from ringlib_codemods.resolve import Position, Site
from ringlib_codemods.rules.base import Rule


class CallRule(Rule):
    """Maps the old arguments onto the canonical call; the user's argument expressions
    (and their comments and line breaks) are reused, ignored arguments are dropped with a
    note. An instance whose old private attributes are used elsewhere is left alone: the
    canonical object would not have them."""

    positions = (Position.CALL,)

    def plan(self) -> None:
        self.calls: dict[int, Recipe] = {}
        self.built: dict[int, list[cst.Arg]] = {}  # the arguments as planned (no nested rewrite)
        self.private = self._private_uses()
        super().plan()

    def _private_uses(self) -> dict[str, tuple[str, cst.CSTNode]]:
        """``target -> (attribute, statement)`` for ``target._attr`` uses in the module."""
        uses: dict[str, tuple[str, cst.CSTNode]] = {}
        for node, statement in self.ctx.analysis.private_uses:
            owner = get_full_name_for_node(node.value)
            if owner and owner not in uses:
                uses[owner] = (node.attr.value, statement)
        return uses

    def decide(self, site: Site) -> None:
        ctx, entry = self.ctx, site.entry
        call = site.parent
        assert isinstance(call, cst.Call) and entry is not None
        rewrite = ctx.usable_rewrite(site)
        if rewrite is None:
            return
        holder = site.ancestors[-2] if len(site.ancestors) > 1 else None
        if isinstance(holder, cst.Attribute) and holder.value is call and \
                holder.attr.value.startswith("_") and not holder.attr.value.endswith("__"):
            ctx.unsafe(site, f"old private attribute {entry.name}(...).{holder.attr.value}")
            return
        owner = ctx.analysis.assigned_from_call.get(id(call))
        if owner and ctx.analysis.excerpt is not None and ctx.analysis.excerpt.private_use_outside(owner):
            raise WholeModule(f"{owner}._attr is used in a statement the excerpt left out")
        if owner and owner in self.private:
            attr, statement = self.private[owner]
            line = ctx.analysis.line_of(statement)[0]
            ctx.unsafe(site, f"old private attribute {owner}.{attr} is used (line {line})")
            return
        try:
            bound = bind(entry, call.args)
            recipe = Recipe(entry, rewrite, bound, ctx.expr)
            built = recipe.build(call.args)  # raises Unsafe now rather than during the transform
        except Unsafe as why:
            ctx.unsafe(site, str(why))
            return
        self.calls[id(call)] = recipe
        self.built[id(call)] = built
        ctx.rewritten_site(site, rewrite, [*bound.dropped, *recipe.unused()], recipe.sources)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        recipe = self.calls.get(id(original_node))
        if recipe is None:
            return updated_node
        func = recipe.target()
        old = updated_node.func
        if isinstance(old, (cst.Name, cst.Attribute)) and (old.lpar or old.rpar):
            func = func.with_changes(lpar=old.lpar, rpar=old.rpar)
        args = updated_node.args
        if len(args) == len(original_node.args) and all(
                a is b for a, b in zip(args, original_node.args)):
            built = self.built[id(original_node)]  # no argument was rewritten inside
        else:
            built = recipe.build(args)
        return updated_node.with_changes(func=func, args=built)
