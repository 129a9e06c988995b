"""Migrating one module's source: parse, resolve once, plan every rule, transform, verify."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Union

import libcst as cst

from ringlib_codemods import excerpt
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


def _leave_hooks(rule_type: type) -> dict[str, str]:
    """``node type name -> method name`` of the ``leave_*`` hooks a rule class defines
    (libcst's base class has a no-op one for every node type: those are left out)."""
    hooks = _HOOKS.get(rule_type)
    if hooks is None:
        hooks = {name[6:]: name for name in dir(rule_type)
                 if name.startswith("leave_") and "_" not in name[6:]
                 and getattr(rule_type, name) is not getattr(cst.CSTTransformer, name, None)}
        _HOOKS[rule_type] = hooks
    return hooks


_HOOKS: dict[type, dict[str, str]] = {}
#: (rule classes, node type) -> (rule index, method name) of each hook, in rule order
_NODE_HOOKS: dict[tuple[tuple[type, ...], type], list[tuple[int, str]]] = {}


class Pipeline(cst.CSTTransformer):
    """All rules in one traversal; each rule's ``leave_*`` sees the node as updated by the
    rules before it. A rule that returns a removal/flatten sentinel ends the chain.

    Rules change only the nodes they decided on: a site's node, the nodes above it, and the
    statements (with the blocks holding them) that get a comment or lose an import. The name
    resolution records every node on the way from the module to each of those (``paths``);
    the traversal enters only these, and the whole subtree of a node in ``whole`` (where a
    rule rewrites something below a site that is not on such a way). Every other node is
    passed over without being rebuilt (and no hook runs on it). ``paths=None``: every node
    is visited. ``made`` notes which statement of ``top`` each rebuilt one comes from (the
    excerpt's splice cuts the unchanged code of such a statement from the source).
    """

    def __init__(self, rules: list[Rule], paths: set[int] | None = None,
                 whole: Iterable[int] = (), top: Iterable[cst.CSTNode] = ()) -> None:
        super().__init__()
        self.rules = rules
        self.hooks: dict[type, list[Callable]] = {}
        self.paths = paths
        self.whole = set(whole)
        self._whole_root: cst.CSTNode | None = None
        self._passed: cst.CSTNode | None = None
        self._top = {id(statement) for statement in top}
        #: id(top-level statement made) -> (it, the statement of ``top`` it was made from)
        self.made: dict[int, tuple[cst.CSTNode, cst.CSTNode]] = {}

    def _hooks(self, node_type: type) -> list[Callable]:
        """The hooks of every rule for ``node_type``, in rule order (once per node type)."""
        key = (tuple(type(rule) for rule in self.rules), node_type)
        names = _NODE_HOOKS.get(key)
        if names is None:
            names = []
            for i, rule in enumerate(self.rules):
                method = _leave_hooks(type(rule)).get(node_type.__name__)
                if method is not None:
                    names.append((i, method))
                if type(rule).on_leave is not cst.CSTTransformer.on_leave and \
                        issubclass(node_type, rule.leave_types):
                    names.append((i, "on_leave"))
            _NODE_HOOKS[key] = names
        hooks = self.hooks[node_type] = [getattr(self.rules[i], name) for i, name in names]
        return hooks

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.paths is None or self._whole_root is not None:
            return True
        key = id(node)
        if key in self.whole:
            self._whole_root = node
            return True
        if key in self.paths:
            return True
        self._passed = node  # libcst still calls on_leave for it: no hook runs there
        return False

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        pass  # rules define no ``visit_<Node>_<field>`` hooks: skip libcst's lookup per field

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        pass

    def on_leave(self, original_node: cst.CSTNode, updated_node):
        if original_node is self._passed:
            self._passed = None
            return updated_node
        if original_node is self._whole_root:
            self._whole_root = None
        hooks = self.hooks.get(type(original_node))
        if hooks is None:
            hooks = self._hooks(type(original_node))
        for hook in hooks:
            updated_node = hook(original_node, updated_node)
            if not isinstance(updated_node, cst.CSTNode):
                return updated_node
        if id(original_node) in self._top:
            self.made[id(updated_node)] = (updated_node, original_node)
        return updated_node


def _holders(hot: set[int], module: cst.Module) -> set[int]:
    """Statements (and their blocks) that contain a hot statement: the way to each."""
    holders: set[int] = set()

    def walk(nodes, outer: tuple[int, ...]) -> None:
        for node in nodes:
            if id(node) in hot:
                holders.update(outer)
                holders.add(id(node))
            if not isinstance(node, cst.SimpleStatementLine):
                walk(_inner(node), (*outer, id(node)))

    walk(module.body, (id(module),))
    return holders


_CONTAINERS = (cst.SimpleStatementLine, cst.BaseCompoundStatement, cst.BaseSuite, cst.Else,
               cst.Finally, cst.ExceptHandler, cst.ExceptStarHandler, cst.MatchCase)


def _inner(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The statements and statement containers (suites, else, handlers) directly inside."""
    return [child for child in node.children if isinstance(child, _CONTAINERS)]


_COMMENT = re.compile(r"#[^\r\n]*")


#: migrate an excerpt of each module where it can decide (see ``excerpt.py``); False: always
#: the whole module (the differential tests compare both)
EXCERPTS = True


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
    file = Path(path) if path else None
    if EXCERPTS:
        part = excerpt.build(source, index)
        if part is not None:
            try:
                return _migrate(part.module, source, index, semantics, file, label, part)
            except excerpt.WholeModule:
                pass
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        message = f"syntax error, left alone: {error.message}"
        return SourceResult(source, False, [Item(label, error.raw_line, error.raw_column + 1,
                                                 "error", message)], message)
    return _migrate(module, source, index, semantics, file, label)


def _migrate(module: cst.Module, source: Source, index: LegacyIndex, semantics: str,
             path: Path | None, label: str, part: excerpt.Excerpt | None = None) -> SourceResult:
    """Plan every rule on ``module`` (the whole module, or the excerpt ``part`` of it),
    transform, generate and verify the code."""
    analysis = Analysis(module, index, path, source, excerpt=part)
    if not analysis.sites and not analysis.bindings:
        return SourceResult(source)
    ctx = Context(analysis, semantics, label)
    rules = [rule(ctx) for rule in RULES]
    for rule in rules:
        rule.plan()
    ctx.items.sort(key=lambda i: (i.line, i.column))
    if not ctx.rewritten and not ctx.comments:
        return SourceResult(source, False, ctx.items)
    hot = {id(s.statement) for s in analysis.sites} | set(ctx.comments)
    hot |= {id(analysis.import_line.get(id(b.statement), b.statement))
            for b in analysis.bindings.values()}
    paths = analysis.paths
    whole = {id(node) for rule in rules for node in rule.rewrites_below()}
    missing = hot - paths
    if missing:  # not expected: then the way to each such statement, and all of it, visited
        paths = paths | _holders(missing, module)
        whole |= missing
    pipeline = Pipeline(rules, paths, whole, module.body if part is not None else ())
    new = module.visit(pipeline)
    if part is None:
        code: Source = new.bytes if isinstance(source, bytes) else new.code
    else:
        _check_module_insertions(rules, part)
        text = part.splice(new, analysis.statement_tokens, pipeline.made)
        code = text.encode("utf-8") if isinstance(source, bytes) else text
    if code == source:
        return SourceResult(source, False, ctx.items)
    problem = verify(source, code, label)
    if problem:
        ctx.items.append(Item(label, 0, 0, "error", problem))
        return SourceResult(source, False, ctx.items, problem)
    return SourceResult(code, True, ctx.items)


def _check_module_insertions(rules: list[Rule], part: excerpt.Excerpt) -> None:
    """Factories are placed before the first statement naming them and indented with the
    module's default indent: the excerpt decides that only when it holds both."""
    names = [name for rule in rules for name, _ in getattr(rule, "factories", {}).values()]
    if names and (part.default_indent() != part.module.default_indent
                  or any(name in part.text for name in names)):
        raise excerpt.WholeModule("a factory's place or indent depends on statements left out")


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
