"""Rule: ``functools.partial(Old, ...)`` -> ``functools.partial(Canonical, ...)``."""

from __future__ import annotations

import dataclasses

import libcst as cst

from ringlib_legacy.schema import Arg
from ringlib_codemods.recipes import Recipe, Unsafe, bind, is_required
from ringlib_codemods.resolve import Position, Site
from ringlib_codemods.rules.base import Rule
from ringlib_codemods.rules.factories import takes_config


#: The canonical modules take their pattern as the parameter ``pattern`` (a later call's
#: positional arguments must not land on it).
PATTERN_KEYWORD = "pattern"


class PartialRule(Rule):
    """A partial may leave parameters for the later call. That is only safe when the
    missing ones are the leading positional parameters and the recipe passes them through
    positionally in the same order (the later call then lines up), and every other
    canonical argument is a keyword."""

    positions = (Position.PARTIAL,)

    def plan(self) -> None:
        self.partials: dict[int, tuple[Recipe, int]] = {}
        super().plan()

    def decide(self, site: Site) -> None:
        ctx, entry = self.ctx, site.entry
        assert entry is not None
        call = site.ancestors[-2]
        assert isinstance(call, cst.Call)
        if takes_config(entry):
            return  # FactoryRule writes a factory that reads the config
        rewrite = ctx.usable_rewrite(site)
        if rewrite is None:
            return
        rest = call.args[1:]
        try:
            bound = bind(entry, rest, partial=True)
            names = [p.name for p in entry.params if p.kind not in ("var_positional", "var_keyword")]
            required = {p.name for p in entry.params if is_required(p)}
            missing = [n for n in names if n in required and n not in bound.args]
            leading = names[: len(missing)]
            lead_args = rewrite.args[: len(missing)]
            if missing != leading or any(
                a.keyword is not None or a.source != n or a.template or a.choose
                for a, n in zip(lead_args, missing)
            ):
                raise Unsafe(f"functools.partial({entry.name}, ...) leaves parameters that "
                             "do not line up with the canonical call")
            later = tuple(
                dataclasses.replace(a, keyword=PATTERN_KEYWORD) if a.value == "<pattern>"
                and a.keyword is None else a for a in rewrite.args[len(missing):])
            if any(a.keyword is None for a in later):
                raise Unsafe(f"functools.partial({entry.name}, ...): the canonical call takes "
                             "positional arguments after the ones left open")
            if any(_uses(a, missing, rewrite.pattern_args) for a in later):
                raise Unsafe(f"functools.partial({entry.name}, ...): a left-open parameter "
                             "feeds a computed argument")
            trimmed = dataclasses.replace(rewrite, args=later)
            recipe = Recipe(entry, trimmed, bound, ctx.expr)
            recipe.build(rest)
        except Unsafe as why:
            ctx.partial_unsafe[id(site)] = str(why)  # FactoryRule tries a canonical factory
            return
        self.partials[id(call)] = (recipe, len(missing))
        ctx.rewritten_site(site, rewrite, [*bound.dropped, *recipe.unused()], recipe.sources)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        planned = self.partials.get(id(original_node))
        if planned is None:
            return updated_node
        recipe, _ = planned
        first = updated_node.args[0]
        target = cst.Arg(value=recipe.target(), comma=first.comma,
                         whitespace_after_arg=first.whitespace_after_arg)
        rest = recipe.build(updated_node.args[1:])
        if rest and not isinstance(target.comma, cst.Comma):
            target = target.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        if not rest:
            target = target.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(args=[target, *rest])


def _uses(spec: Arg, names: list[str], pattern_args: tuple[Arg, ...]) -> bool:
    if spec.value == "<pattern>":
        return any(_uses(a, names, ()) for a in pattern_args)
    return spec.source in names or any("{" + n + "}" in (spec.template or "") for n in names)
