"""Migrating one module's source: parse, resolve once, plan every rule, transform, verify."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Union

import libcst as cst

from ringlib_codemods.context import Context, Item
from ringlib_codemods.index import LegacyIndex
from ringlib_codemods.resolve import Analysis
from ringlib_codemods.rules import RULES, Rule

Source = Union[str, bytes]


@dataclass
class SourceResult:
    """What migrating one source text produced."""

    code: Source
    changed: bool = False
    items: list[Item] = field(default_factory=list)
    error: str | None = None


class Pipeline(cst.CSTTransformer):
    """All rules in one traversal; each rule's ``leave_*`` sees the node as updated by the
    rules before it. A rule that returns a removal/flatten sentinel ends the chain."""

    def __init__(self, rules: list[Rule]) -> None:
        super().__init__()
        self.generic = [r for r in rules if type(r).on_leave is not cst.CSTTransformer.on_leave]
        self.dispatch: dict[str, list[Callable]] = {}
        for rule in rules:
            for name in dir(type(rule)):
                if name.startswith("leave_") and callable(getattr(rule, name)):
                    self.dispatch.setdefault(name[6:], []).append((rule, getattr(rule, name)))
        self._order = {id(r): i for i, r in enumerate(rules)}

    def on_visit(self, node: cst.CSTNode) -> bool:
        return True

    def on_leave(self, original_node: cst.CSTNode, updated_node):
        hooks = list(self.dispatch.get(type(original_node).__name__, ()))
        hooks += [(r, r.on_leave) for r in self.generic]
        if len(hooks) > 1:
            hooks.sort(key=lambda h: self._order[id(h[0])])
        for _, hook in hooks:
            updated_node = hook(original_node, updated_node)
            if not isinstance(updated_node, cst.CSTNode):
                break
        return updated_node


_COMMENT = re.compile(r"#[^\r\n]*")


def migrate_code(
    source: Source,
    index: LegacyIndex,
    *,
    semantics: str = "preserve",
    path: Path | str | None = None,
    label: str | None = None,
) -> SourceResult:
    """Migrate one module. ``path`` (the file's location) resolves relative imports."""
    label = label or (str(path) if path else "<string>")
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        message = f"syntax error, left alone: {error.message}"
        return SourceResult(source, False, [Item(label, error.raw_line, error.raw_column + 1,
                                                 "error", message)], message)
    analysis = Analysis(module, index, Path(path) if path else None)
    if not analysis.sites and not analysis.bindings:
        return SourceResult(source)
    ctx = Context(analysis, semantics, label)
    rules = [rule(ctx) for rule in RULES]
    for rule in rules:
        rule.plan()
    ctx.items.sort(key=lambda i: (i.line, i.column))
    if not ctx.rewritten and not ctx.comments:
        return SourceResult(source, False, ctx.items)
    new = module.visit(Pipeline(rules))
    code: Source = new.bytes if isinstance(source, bytes) else new.code
    if code == source:
        return SourceResult(source, False, ctx.items)
    problem = verify(source, code, label)
    if problem:
        ctx.items.append(Item(label, 0, 0, "error", problem))
        return SourceResult(source, False, ctx.items, problem)
    return SourceResult(code, True, ctx.items)


def verify(before: Source, after: Source, label: str) -> str | None:
    """Re-parse the output and check that no comment of the input was lost."""
    try:
        compile(after, label, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        return f"internal error, file left alone: the rewritten code does not compile ({error})"
    text_before = before.decode("utf-8", "replace") if isinstance(before, bytes) else before
    text_after = after.decode("utf-8", "replace") if isinstance(after, bytes) else after
    lost = Counter(_COMMENT.findall(text_before)) - Counter(_COMMENT.findall(text_after))
    if lost:
        first = next(iter(lost))
        return f"internal error, file left alone: the rewrite would drop the comment {first!r}"
    return None
