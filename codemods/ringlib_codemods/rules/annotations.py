"""Rule: annotations, ``x: Old`` / ``-> "Old"`` -> the canonical class."""

from __future__ import annotations

import libcst as cst

from ringlib_codemods.resolve import Position, Site
from ringlib_codemods.rules.base import ReplaceReferences


class AnnotationRule(ReplaceReferences):
    """Annotations name the class of the objects the rewritten constructors now build.
    A string annotation is rewritten when it is exactly the old name; anything more
    complex inside a string is commented."""

    positions = (Position.ANNOTATION,)

    def decide(self, site: Site) -> None:
        entry = site.entry
        assert entry is not None
        rewrite = self.class_rewrite(site, f"annotation {entry.name}")
        if rewrite is None:
            return
        if isinstance(site.node, (cst.SimpleString, cst.ConcatenatedString)):
            bound = site.binding.bound_name if site.binding else ""
            if not isinstance(site.node, cst.SimpleString) or site.node.evaluated_value != bound:
                self.ctx.unsafe(site, f"string annotation mentioning {entry.name}: "
                                      f"replace it by hand with {rewrite.target}")
                return
        self.replace[id(site.node)] = rewrite.target
        self.ctx.rewritten_site(site, rewrite)

    def leave_SimpleString(self, original_node: cst.SimpleString,
                           updated_node: cst.SimpleString) -> cst.SimpleString:
        target = self.replace.get(id(original_node))
        if target is None:
            return updated_node
        code = cst.Module([]).code_for_node(self.ctx.expr(target))
        quote = updated_node.quote
        return updated_node.with_changes(value=f"{updated_node.prefix}{quote}{code}{quote}")
