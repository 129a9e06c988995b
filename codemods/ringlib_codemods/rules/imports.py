"""Rule: imports. Old aliases go once every use is rewritten; ``import ringlib`` comes in."""

from __future__ import annotations

import libcst as cst

from ringlib_codemods.context import COMMENT_PREFIX
from ringlib_codemods.resolve import Binding, Position, Site
from ringlib_codemods.rules.base import Rule


class ImportRule(Rule):
    """Runs after the other rules have planned. An old import alias is removed only when
    all of its uses were rewritten (the user's other aliases stay); an unused or partly
    migrated old import is kept and commented. The new ``import ringlib`` takes the place
    of the first old import of its scope, so it lands inside the same ``try: ... except
    ImportError:`` block and the fallback keeps working."""

    def plan(self) -> None:
        ctx = self.ctx
        analysis = ctx.analysis
        self.remove: set[int] = set()  # id(alias)
        self.placeholders: set[int] = set()
        anchors: dict[int, Binding] = {}
        for binding in analysis.bindings.values():
            sites = [analysis.consumed.get(id(a.node)) for a in binding.references]
            sites += [s for s in analysis.sites
                      if s.position is Position.ALL and s.binding is binding]
            old_sites = [s for s in sites if s is not None]
            rewritten = [s for s in old_sites if id(s) in ctx.rewritten]
            if rewritten:
                scope_key = id(binding.scope)
                best = anchors.get(scope_key)
                if best is None or self._order(binding) < self._order(best):
                    anchors[scope_key] = binding
            if sites and len(rewritten) == len(sites):
                self.remove.add(id(binding.alias))
                continue
            entry = ctx.index.by_path.get(binding.path)
            if entry is None and not ctx.index.is_old_module(binding.path):
                continue  # removed or unknown: its own site already explains it
            label = entry.name if entry else binding.path
            if not sites:
                ctx.unsafe(_site_for(binding, analysis), f"{label} is imported but not used here "
                                               "(a re-export?): replace it by hand")
            elif len(rewritten) < len(old_sites):
                ctx.unsafe(_site_for(binding, analysis), f"import of {label} kept: some uses need "
                                               "manual migration (marked)")
        module_scope = analysis.module_scope
        top = anchors.get(id(module_scope))
        if top is not None and id(top.statement) not in analysis.import_try:
            # a plain module-level import serves every function of the module
            anchors = {id(module_scope): top}
        self.anchors = {id(b.statement): b for b in anchors.values()}
        self.new_imports = self._new_imports()

    def _order(self, binding: Binding) -> int:
        return self.ctx.analysis.import_order.get(id(binding.statement), 0)

    def _new_imports(self) -> dict[int, list[cst.SimpleStatementLine]]:
        """For each anchor import statement, the import lines to put there."""
        ctx = self.ctx
        out: dict[int, list[cst.SimpleStatementLine]] = {}
        for key, binding in self.anchors.items():
            lines = []
            for module in sorted(ctx.imports_needed):
                name = ctx.ringlib if module == "ringlib" else module
                if name in binding.scope or ctx.analysis.module_binds(name):
                    continue
                alias = cst.ImportAlias(
                    name=cst.Name(module),
                    asname=cst.AsName(name=cst.Name(name)) if name != module else None,
                )
                lines.append(cst.SimpleStatementLine(body=[cst.Import(names=[alias])]))
            if lines:
                out[key] = lines
        return out

    # -- transform ------------------------------------------------------------------------
    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine,
                                  updated_node: cst.SimpleStatementLine):
        body = []
        anchor = None
        for orig, new in zip(original_node.body, updated_node.body):
            if isinstance(orig, (cst.Import, cst.ImportFrom)):
                if id(orig) in self.new_imports:
                    anchor = self.new_imports[id(orig)]
                trimmed = self._trim_updated(orig, new)
                if trimmed is None:
                    continue
                body.append(trimmed)
            else:
                body.append(new)
        if len(body) == len(updated_node.body) and anchor is None:
            return updated_node
        if body:
            body[-1] = body[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            kept = updated_node.with_changes(body=body)
            if not anchor:
                return kept
            # the new import goes first: it must not depend on the old import succeeding
            ours = [line for line in kept.leading_lines if _is_ours(line)]
            theirs = [line for line in kept.leading_lines if not _is_ours(line)]
            first = anchor[0].with_changes(leading_lines=theirs)
            return cst.FlattenSentinel([first, *anchor[1:], kept.with_changes(leading_lines=ours)])
        if anchor:
            first = anchor[0].with_changes(leading_lines=updated_node.leading_lines,
                                           trailing_whitespace=updated_node.trailing_whitespace)
            return cst.FlattenSentinel([first, *anchor[1:]]) if len(anchor) > 1 else first
        placeholder = updated_node.with_changes(body=[cst.Pass()])
        self.placeholders.add(id(placeholder))
        return placeholder

    def _trim_updated(self, orig, new):
        """``_trim`` decides on the original aliases and applies to the updated node."""
        if isinstance(orig.names, cst.ImportStar):
            return new
        keep = [i for i, a in enumerate(orig.names) if id(a) not in self.remove]
        if len(keep) == len(orig.names):
            return new
        if not keep:
            return None
        names = [new.names[i] for i in keep]
        parenthesized = isinstance(new, cst.ImportFrom) and new.lpar is not None
        own, last = names[-1].comma, new.names[-1].comma
        if not parenthesized or not isinstance(own, cst.Comma):
            names[-1] = names[-1].with_changes(comma=last)
        elif isinstance(last, cst.Comma) and isinstance(own.whitespace_after, cst.ParenthesizedWhitespace) \
                and isinstance(last.whitespace_after, cst.ParenthesizedWhitespace):
            # keep this alias's comment, but close the parenthesis where it was closed
            ws = own.whitespace_after.with_changes(last_line=last.whitespace_after.last_line)
            names[-1] = names[-1].with_changes(comma=own.with_changes(whitespace_after=ws))
        return new.with_changes(names=names)

    def _drop_placeholders(self, body, footer):
        if not any(id(s) in self.placeholders for s in body):
            return body, footer
        out: list = []
        carry: list[cst.EmptyLine] = []
        for statement in body:
            if id(statement) in self.placeholders:
                carry += _comment_lines(statement.leading_lines)
                continue
            if carry:
                statement = statement.with_changes(
                    leading_lines=[*carry, *statement.leading_lines])
                carry = []
            out.append(statement)
        if not out:  # the block held nothing else: keep one `pass` (with its comments)
            first = body[0]
            rest = [line for s in body[1:] for line in _comment_lines(s.leading_lines)]
            return [first], [*rest, *footer]
        return out, [*carry, *footer]

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock,
                            updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        body, footer = self._drop_placeholders(updated_node.body, updated_node.footer)
        if body is updated_node.body:
            return updated_node
        return updated_node.with_changes(body=body, footer=footer)

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        body, footer = self._drop_placeholders(updated_node.body, updated_node.footer)
        if body is updated_node.body:
            return updated_node
        return updated_node.with_changes(body=body, footer=footer)


def _is_ours(line: cst.EmptyLine) -> bool:
    return line.comment is not None and line.comment.value.startswith(COMMENT_PREFIX)


def _comment_lines(lines) -> list[cst.EmptyLine]:
    """The leading lines of a removed statement, from its first comment on."""
    for i, line in enumerate(lines):
        if line.comment is not None:
            return list(lines[i:])
    return []


def _site_for(binding: Binding, analysis) -> Site:
    """A site for the import statement itself (its comment and report line)."""
    statement = analysis.import_line.get(id(binding.statement), binding.statement)
    entry = analysis.index.by_path.get(binding.path)
    return Site(binding.alias, Position.IMPORT, statement, (), entry, binding.path, binding)
