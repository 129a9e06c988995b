"""A plain walk over a libcst subtree, for the read-only questions rules ask of new code.

libcst's visitors dispatch two hooks per node through ``getattr``; a question such as "which
comments are under this node" or "does this statement name ``build_x``" needs neither, and a
walk over the dataclass fields answers it several times faster.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import libcst as cst

_FIELDS: dict[type, tuple[str, ...]] = {}
_IS_NODE: dict[type, bool] = {}  # ``isinstance`` against libcst's abstract base is slow


def _is_node(kind: type) -> bool:
    known = _IS_NODE.get(kind)
    if known is None:
        known = _IS_NODE[kind] = issubclass(kind, cst.CSTNode)
    return known


def descendants(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """``node`` and every node below it, in no particular order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        kind = type(current)
        names = _FIELDS.get(kind)
        if names is None:
            names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(current))  # type: ignore[arg-type]
        for name in names:
            value = getattr(current, name)
            value_type = type(value)
            if value_type is list or value_type is tuple:
                stack.extend(v for v in value if _is_node(type(v)))
            elif _is_node(value_type):
                stack.append(value)


# -- read-only visits in document order ---------------------------------------------------------
_ORDER: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}


class _FieldOrder(cst.CSTVisitor):
    """Notes the fields libcst's own traversal enters for one node, in its (document) order."""

    def __init__(self, node: cst.CSTNode) -> None:
        super().__init__()
        self.node = node
        self.fields: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_leave(self, original_node: cst.CSTNode) -> None:
        pass

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        if node is self.node:
            self.fields.append(attribute)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        pass


def _probe(node: cst.CSTNode) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The fields libcst enters for ``node``, and the fields it left out because they are
    None here (libcst enters some optional fields only when set, e.g. an f-string's format
    spec: a node of the same type that sets one is probed on its own)."""
    probe = _FieldOrder(node)
    node._visit_and_replace_children(probe)
    order = tuple(probe.fields)
    unset = tuple(f.name for f in dataclasses.fields(node)  # type: ignore[arg-type]
                  if f.name not in order and getattr(node, f.name) is None)
    return order, unset


def _holds_node(value: object) -> bool:
    if type(value) is list or type(value) is tuple:
        return any(_is_node(type(v)) for v in value)  # type: ignore[union-attr]
    return _is_node(type(value))


def _child_fields(node: cst.CSTNode) -> tuple[str, ...]:
    """The fields libcst's traversal enters for ``node``, in its order."""
    entry = _ORDER.get(type(node))
    if entry is None:
        entry = _ORDER[type(node)] = _probe(node)
    order, unset = entry
    if unset and any(_holds_node(getattr(node, name)) for name in unset):
        return _probe(node)[0]
    return order


#: nodes without children that many visitors need not see (half the nodes of a module)
BLANKS = (cst.SimpleWhitespace, cst.Newline)


def _operators() -> tuple[type, ...]:
    bases = (cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp, cst.BaseUnaryOp, cst.BaseAugOp)
    return tuple(t for t in vars(cst).values()
                 if isinstance(t, type) and issubclass(t, bases) and t not in bases)


#: punctuation, operators, numbers and line ends: nodes whose children are at most
#: whitespace (with the comments it may hold) and parentheses
TOKENS = (cst.Comma, cst.Dot, cst.AssignEqual, cst.Colon, cst.Semicolon, cst.LeftParen,
          cst.RightParen, cst.LeftSquareBracket, cst.RightSquareBracket, cst.LeftCurlyBrace,
          cst.RightCurlyBrace, cst.Integer, cst.Float, cst.Imaginary, cst.TrailingWhitespace,
          cst.EmptyLine, *_operators())


def visit(root: cst.CSTNode, visitor: cst.CSTVisitor, skip: tuple[type, ...] = (),
          quiet: tuple[type, ...] = ()) -> None:
    """``root.visit(visitor)`` for a visitor that only reads: the same calls in the same order
    (``on_visit``, ``visit_<Node>_<field>``, the children, ``leave_<Node>_<field>``,
    ``on_leave``), without libcst rebuilding every node it passes (a few times faster).
    Nodes of the types ``skip`` (e.g. ``BLANKS``) are not entered at all; nodes of the types
    ``quiet`` (e.g. ``TOKENS``, for a visitor that ignores them) only where they hold more
    than nodes of ``skip`` (a comment in their whitespace, parentheses around a number)."""
    plans: dict[type, tuple[list[tuple[str, object, object]], tuple[str, ...]]] = {}

    def plan(node: cst.CSTNode) -> list[tuple[str, object, object]]:
        """``(field, visit hook, leave hook)`` for each field libcst enters for ``node``."""
        kind = type(node)
        return [(name, getattr(visitor, f"visit_{kind.__name__}_{name}", None),
                 getattr(visitor, f"leave_{kind.__name__}_{name}", None))
                for name in _child_fields(node)]

    on_visit, on_leave = visitor.on_visit, visitor.on_leave
    skipped = frozenset(skip)
    quieted = frozenset(quiet)

    def holds_more(node: cst.CSTNode) -> bool:
        for name in _child_fields(node):
            value = getattr(node, name)
            value_type = type(value)
            if value_type is list or value_type is tuple:
                if any(type(child) not in skipped for child in value):
                    return True
            elif value_type not in skipped and _is_node(value_type):
                return True
        return False

    def enter(node: cst.CSTNode) -> None:
        if type(node) in quieted and not holds_more(node):
            return
        if on_visit(node):
            entry = plans.get(type(node))
            if entry is None:
                entry = plans[type(node)] = (plan(node), _ORDER[type(node)][1])
            fields, unset = entry
            if unset and any(_holds_node(getattr(node, name)) for name in unset):
                fields = plan(node)  # a field its type's first node left unset
            for name, before, after in fields:
                if before is not None:
                    before(node)
                value = getattr(node, name)
                value_type = type(value)
                if value_type is list or value_type is tuple:
                    for child in value:
                        if type(child) not in skipped:
                            enter(child)
                elif value_type not in skipped and _is_node(value_type):
                    enter(value)
                if after is not None:
                    after(node)
        on_leave(node)

    enter(root)
