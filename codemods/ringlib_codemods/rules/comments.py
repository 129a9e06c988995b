"""Rule: the ``# ringlib-migrate: <reason>`` comments, one per statement, never twice."""

from __future__ import annotations

import libcst as cst

from ringlib_codemods.context import COMMENT_PREFIX, has_migrate_comment
from ringlib_codemods.resolve import STATEMENTS
from ringlib_codemods.rules.base import Rule


class CommentRule(Rule):
    """Puts the reasons the other rules recorded above their statement. A statement that
    already carries a ``ringlib-migrate`` comment gets no second one, so re-running the
    codemod changes nothing."""

    def plan(self) -> None:
        pass

    def on_leave(self, original_node: cst.CSTNode, updated_node):
        if not isinstance(original_node, STATEMENTS):
            return updated_node
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
