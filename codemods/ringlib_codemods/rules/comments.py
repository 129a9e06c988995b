"""Rule: the ``# ringlib-migrate: <reason>`` comments, one per statement, never twice."""

from __future__ import annotations

from collections import Counter

import libcst as cst

from ringlib_codemods.context import COMMENT_PREFIX, has_migrate_comment
from ringlib_codemods.resolve import STATEMENTS
from ringlib_codemods.rules.base import Rule
from ringlib_codemods import walk
from ringlib_codemods.walk import descendants


class CommentRule(Rule):
    """Puts the reasons the other rules recorded above their statement. A statement that
    already carries a ``ringlib-migrate`` comment gets no second one, so re-running the
    codemod changes nothing.

    A comment the rewrite of a statement dropped (it sat on an argument that is gone, e.g.
    ``use_hilbert=False,  # Disable Hilbert``) moves with the code: it is kept as a line of
    its own above the statement."""

    leave_types = STATEMENTS

    def plan(self) -> None:
        self.site_statements = {id(s.statement) for s in self.ctx.analysis.sites}

    def on_leave(self, original_node: cst.CSTNode, updated_node):
        if not isinstance(original_node, STATEMENTS):
            return updated_node
        if id(original_node) in self.site_statements and updated_node is not original_node \
                and id(original_node) in self.ctx.analysis.commented:
            lost = lost_comments(original_node, updated_node)
            if lost:
                moved = [cst.EmptyLine(indent=True, comment=cst.Comment(c)) for c in lost]
                updated_node = updated_node.with_changes(leading_lines=[*updated_node.leading_lines, *moved])
        reasons = self.ctx.comments.get(id(original_node))
        if not reasons or has_migrate_comment(original_node) or self._in_header(original_node):
            return updated_node
        text = f"{COMMENT_PREFIX} {'; '.join(reasons)}"
        line = cst.EmptyLine(indent=True, comment=cst.Comment(text))
        return updated_node.with_changes(leading_lines=[*updated_node.leading_lines, line])

    def _in_header(self, statement: cst.CSTNode) -> bool:
        """Comments above a module's first statement are parsed into the module header."""
        module = self.ctx.analysis.module
        return bool(module.body) and module.body[0] is statement and any(
            line.comment is not None and line.comment.value.startswith(COMMENT_PREFIX)
            for line in module.header)


def _comments(node: cst.CSTNode) -> list[str]:
    found: list[str] = []

    class Collect(cst.CSTVisitor):
        def visit_Comment(self, comment: cst.Comment) -> None:
            found.append(comment.value)

    walk.visit(node, Collect(), skip=walk.BLANKS)
    return found


def _comment_counts(node: cst.CSTNode) -> Counter[str]:
    """The comments under ``node``, in no particular order."""
    return Counter(n.value for n in descendants(node) if type(n) is cst.Comment)  # type: ignore[attr-defined]


def lost_comments(before: cst.CSTNode, after: cst.CSTNode) -> list[str]:
    """Comments of ``before`` that ``after`` no longer holds (as often as they were lost), in
    document order. Most rewrites lose none: the cheap count settles those."""
    if not _comment_counts(before) - _comment_counts(after):
        return []
    remaining = _comments(after)
    lost = []
    for comment in _comments(before):
        if comment in remaining:
            remaining.remove(comment)
        else:
            lost.append(comment)
    return lost
