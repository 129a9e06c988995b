"""The codemod's side of the one recipe interpreter (``ringlib_legacy.recipe``): libcst nodes.

``CstExpressions`` tells the interpreter how to read and write libcst expressions; ``bind``
and ``Recipe.build`` take and return the user's ``cst.Arg`` nodes, keeping their comments
and separators. What a recipe means is decided in ``ringlib_legacy.recipe`` alone.
"""

from __future__ import annotations

import ast
import functools
from typing import Callable, Sequence

import libcst as cst

from ringlib_legacy import recipe as interpreter
from ringlib_legacy.recipe import Bound, Passed, Unsafe, Written, is_required
from ringlib_legacy.schema import LegacyName, Rewrite

__all__ = ["Bound", "CstExpressions", "Recipe", "Unsafe", "bind", "is_required", "is_simple", "literal"]


def literal(node: cst.BaseExpression) -> tuple[bool, object]:
    """(True, value) when ``node`` is a plain literal (numbers, strings, None, lists...)."""
    if type(node) in _TOKENS:  # its value is its one token (parentheses change nothing)
        return _token_literal(node.value)  # type: ignore[attr-defined]
    if isinstance(node, (cst.UnaryOperation, cst.List, cst.Tuple, cst.Dict, cst.Set)):
        return _literal(_code(node).strip())
    return False, None


_TOKENS = (cst.Name, cst.Integer, cst.Float, cst.SimpleString)


def _literal(code: str) -> tuple[bool, object]:
    try:
        return True, ast.literal_eval(code)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


@functools.lru_cache(maxsize=4096)
def _token_literal(token: str) -> tuple[bool, object]:
    """The value of one name, number or string token (immutable: safe to share)."""
    return _literal(token)


def is_simple(node: cst.BaseExpression) -> bool:
    """Cheap, side-effect free expressions that may be written twice."""
    if isinstance(node, (cst.Name, cst.Integer, cst.Float, cst.SimpleString)):
        return True
    if isinstance(node, cst.Attribute):
        return is_simple(node.value)
    if isinstance(node, cst.UnaryOperation):
        return is_simple(node.expression)
    if isinstance(node, (cst.List, cst.Tuple)):
        return all(isinstance(e, cst.Element) and is_simple(e.value) for e in node.elements)
    return False


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def _passed(args: Sequence[cst.Arg]) -> list[Passed[cst.BaseExpression]]:
    return [Passed(a.value, keyword=a.keyword.value if a.keyword else None, star=a.star or "", origin=a)
            for a in args]


def _to_arg(written: Written[cst.BaseExpression]) -> cst.Arg:
    """A canonical argument as a node; the user's own node when it is reused (comments stay)."""
    keyword = cst.Name(written.keyword) if written.keyword else None
    equal = _EQUAL if keyword else cst.MaybeSentinel.DEFAULT
    old = written.origin
    if not isinstance(old, cst.Arg):
        return cst.Arg(value=written.value, keyword=keyword, equal=equal)
    node = old.with_changes(keyword=keyword, equal=equal)
    if keyword is not None and old.keyword is not None:
        node = node.with_changes(equal=old.equal)
    return node


class CstExpressions:
    """``ringlib_legacy.recipe.Expressions`` over libcst nodes; ``parse`` knows the module's ringlib alias."""

    def __init__(self, parse: Callable[[str], cst.BaseExpression] = cst.parse_expression) -> None:
        self.parse = parse

    def code(self, expr: cst.BaseExpression) -> str:
        return _code(expr)

    def literal(self, expr: cst.BaseExpression) -> tuple[bool, object]:
        return literal(expr)

    def is_simple(self, expr: cst.BaseExpression) -> bool:
        return is_simple(expr)

    def is_atom(self, expr: cst.BaseExpression) -> bool:
        return is_simple(expr) or isinstance(expr, (cst.Call, cst.Subscript))

    def call(self, func: cst.BaseExpression, args: Sequence[Written[cst.BaseExpression]]) -> cst.Call:
        inner = [_to_arg(a) for a in args]
        return cst.Call(func=func, args=[_plain_comma(a, last=(i == len(inner) - 1)) for i, a in enumerate(inner)])

    def either(self, test: cst.BaseExpression, yes: cst.BaseExpression, no: cst.BaseExpression) -> cst.IfExp:
        return cst.IfExp(test=test, body=yes, orelse=no, lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def bind(entry: LegacyName, args: Sequence[cst.Arg], *, partial: bool = False) -> Bound:
    """Bind the call's ``args`` to ``entry.params`` (``ringlib_legacy.recipe.bind``); raise ``Unsafe``."""
    return interpreter.bind(entry, _passed(args), CstExpressions(), partial=partial)


class Recipe(interpreter.Recipe[cst.BaseExpression]):
    """A ``Rewrite`` bound to one call site; ``build`` writes the canonical arguments as nodes."""

    def __init__(self, entry: LegacyName, rewrite: Rewrite, bound: Bound,
                 expr: Callable[[str], cst.BaseExpression]) -> None:
        super().__init__(entry, rewrite, bound, CstExpressions(expr))

    def build(self, args: Sequence[cst.Arg]) -> list[cst.Arg]:
        """The canonical call's arguments, reusing the user's argument nodes in ``args``."""
        return _with_commas([_to_arg(w) for w in self.arguments(_passed(args))], args)


_EQUAL = cst.AssignEqual(
    whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
)


def _has_comment(node: cst.CSTNode | cst.MaybeSentinel) -> bool:
    if isinstance(node, cst.MaybeSentinel):
        return False
    return "#" in cst.Module([]).code_for_node(node)


def _plain_comma(arg: cst.Arg, last: bool) -> cst.Arg:
    """Inside a generated pattern call: ``, `` separators, unless a comment must stay."""
    if _has_comment(arg.comma) or _has_comment(arg.whitespace_after_arg):
        return arg
    comma = cst.MaybeSentinel.DEFAULT if last else cst.Comma(
        whitespace_after=cst.SimpleWhitespace(" "))
    return arg.with_changes(comma=comma, whitespace_after_arg=cst.SimpleWhitespace(""))


def _with_commas(out: list[cst.Arg], original: Sequence[cst.Arg]) -> list[cst.Arg]:
    """Separators for the canonical call in the style of the user's call.

    A multi-line call keeps one argument per line (its first separator is reused) and its
    trailing comma; comments on reused arguments stay with them.
    """
    if not out:
        return out
    separator: cst.Comma | cst.MaybeSentinel = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    for arg in original[:-1]:  # the user's own separator, if one carries no comment
        if isinstance(arg.comma, cst.Comma) and not _has_comment(arg.comma):
            separator = arg.comma
            break
    last_comma = original[-1].comma if original else cst.MaybeSentinel.DEFAULT
    result = []
    for i, arg in enumerate(out):
        is_last = i == len(out) - 1
        reused = any(arg.value is o.value for o in original)
        if is_last:
            if reused and _has_comment(arg.comma):
                comma = arg.comma
            elif isinstance(last_comma, cst.Comma) and not _has_comment(last_comma):
                comma = last_comma
            else:
                comma = cst.MaybeSentinel.DEFAULT
            ws = arg.whitespace_after_arg if reused and _has_comment(arg.whitespace_after_arg) \
                else (original[-1].whitespace_after_arg if original else cst.SimpleWhitespace(""))
            result.append(arg.with_changes(comma=comma, whitespace_after_arg=ws))
        else:
            keep = reused and isinstance(arg.comma, cst.Comma) and (
                _has_comment(arg.comma) or arg.comma is not (original[-1].comma if original else None)
            )
            comma = arg.comma if keep else separator
            ws = arg.whitespace_after_arg if reused else cst.SimpleWhitespace("")
            result.append(arg.with_changes(comma=comma, whitespace_after_arg=ws))
    return result
