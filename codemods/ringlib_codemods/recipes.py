"""Interpreting a registry ``Rewrite`` against the user's source expressions.

``bind`` matches a call's arguments to the old constructor's parameters (positional and
keyword, exactly as Python would); ``Recipe.build`` writes the canonical call's arguments.
Anything that cannot be mapped statically raises ``Unsafe`` with the reason the codemod
puts in its comment.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import libcst as cst

from ringlib.registry import Arg, LegacyName, Param, Rewrite, _Required

PATTERN = "<pattern>"
POSITIONAL = ("positional_or_keyword", "positional_only")


class Unsafe(Exception):
    """The rewrite cannot be proven safe; ``str(self)`` is the reason."""


def is_required(param: Param) -> bool:
    return isinstance(param.default, _Required)


def literal(node: cst.BaseExpression) -> tuple[bool, object]:
    """(True, value) when ``node`` is a plain literal (numbers, strings, None, lists...)."""
    if isinstance(node, (cst.Name, cst.Integer, cst.Float, cst.SimpleString, cst.UnaryOperation,
                         cst.List, cst.Tuple, cst.Dict, cst.Set)):
        try:
            return True, ast.literal_eval(cst.Module([]).code_for_node(node).strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return False, None
    return False, None


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


@dataclass
class Bound:
    """The result of binding a call's arguments to the old parameters."""

    args: dict[str, int] = field(default_factory=dict)  # param -> index into call.args
    dropped: list[str] = field(default_factory=list)  # notes on ignored arguments
    default_like: set[str] = field(default_factory=set)  # passed literally equal to the default


def bind(entry: LegacyName, args: Sequence[cst.Arg], *, partial: bool = False) -> Bound:
    """Bind ``args`` to ``entry.params`` like Python's call binding; raise ``Unsafe``."""
    params = list(entry.params)
    by_name = {p.name: p for p in params}
    positional = [p for p in params if p.kind in POSITIONAL]
    var_positional = next((p for p in params if p.kind == "var_positional"), None)
    var_keyword = next((p for p in params if p.kind == "var_keyword"), None)
    bound = Bound()
    next_positional = 0
    for i, arg in enumerate(args):
        if arg.star == "*":
            raise Unsafe(f"{entry.name}(*...): positional unpacking cannot be mapped")
        if arg.star == "**":
            raise Unsafe(f"{entry.name}(**...): unknown keyword arguments cannot be mapped")
        if arg.keyword is None:
            if next_positional < len(positional):
                bound.args[positional[next_positional].name] = i
                next_positional += 1
                continue
            if var_positional is not None and var_positional.role == "ignored":
                bound.dropped.append(f"extra positional argument {i + 1} dropped (ignored)")
                continue
            raise Unsafe(f"{entry.name}(...): too many positional arguments")
        name = arg.keyword.value
        param = by_name.get(name)
        if param is None or param.kind in ("var_positional", "var_keyword", "positional_only"):
            if var_keyword is not None and var_keyword.role == "ignored":
                bound.dropped.append(f"{name}= dropped (ignored: **{var_keyword.name})")
                continue
            if var_keyword is not None:
                raise Unsafe(f"{entry.name}(...): keyword {name!r} goes to **{var_keyword.name}, "
                             "which cannot be mapped")
            raise Unsafe(f"{entry.name}(...): unknown keyword argument {name!r}")
        if name in bound.args:
            raise Unsafe(f"{entry.name}(...): multiple values for {name!r}")
        bound.args[name] = i
    for param in params:
        if param.kind in ("var_positional", "var_keyword"):
            continue
        index = bound.args.get(param.name)
        if index is None:
            if is_required(param) and not partial:
                raise Unsafe(f"{entry.name}(...): missing argument {param.name!r}")
            continue
        ok, value = literal(args[index].value)
        at_default = ok and not is_required(param) and _same(value, param.default)
        if at_default:
            bound.default_like.add(param.name)
        if param.role == "ignored":
            del bound.args[param.name]
            note = f"{param.name}= dropped (ignored by the old class"
            bound.dropped.append(note + (f": {param.note})" if param.note else ")"))
        elif param.role == "unsupported" and not at_default:
            why = f": {param.note}" if param.note else ""
            raise Unsafe(f"{entry.name}(...): argument {param.name!r} has no canonical "
                         f"equivalent{why}")
    return bound


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b or (a is None and b is None)


def _parens(code: str, node: cst.BaseExpression) -> str:
    return code if is_simple(node) or isinstance(node, (cst.Call, cst.Subscript)) else f"({code})"


class Recipe:
    """A ``Rewrite`` bound to one call site; ``build`` writes the canonical arguments."""

    def __init__(self, entry: LegacyName, rewrite: Rewrite, bound: Bound,
                 expr: Callable[[str], cst.BaseExpression]) -> None:
        self.entry = entry
        self.rewrite = rewrite
        self.bound = bound
        self._parse = expr  # parses recipe source, with the user's alias for ringlib
        self.sources: set[str] = set()  # every recipe expression written (imports follow)
        self.params = {p.name: p for p in entry.params}
        self._check_double_use()

    def expr(self, source: str) -> cst.BaseExpression:
        self.sources.add(source)
        return self._parse(source)

    def _sources(self, spec: Arg) -> list[str]:
        names = [spec.source] if spec.source else []
        if spec.template:
            names += re.findall(r"{(\w+)}", spec.template)
        return names

    def _check_double_use(self) -> None:
        """A non-trivial argument written twice would be evaluated twice."""
        specs = list(self.rewrite.args) + list(self.rewrite.pattern_args)
        counts: dict[str, int] = {}
        for spec in specs:
            for name in set(self._sources(spec)):
                counts[name] = counts.get(name, 0) + 1
        self._multi = {n for n, c in counts.items() if c > 1}

    def unused(self) -> list[str]:
        """Notes for mapped arguments the canonical call does not need."""
        used = {n for spec in (*self.rewrite.args, *self.rewrite.pattern_args)
                for n in self._sources(spec)}
        notes = []
        for name in self.bound.args:
            if name not in used and self.params[name].role == "map":
                note = self.params[name].note
                notes.append(f"{name}= dropped (not needed by {self.rewrite.target}"
                             + (f"; {note})" if note else ")"))
        return notes

    def target(self) -> cst.BaseExpression:
        return self.expr(self.rewrite.target)

    def build(self, args: Sequence[cst.Arg]) -> list[cst.Arg]:
        """The canonical call's arguments, reusing the user's argument nodes in ``args``."""
        out = self._args(self.rewrite.args, args, top=True)
        return _with_commas(out, args)

    def _args(self, specs: Sequence[Arg], args: Sequence[cst.Arg], top: bool) -> list[cst.Arg]:
        out: list[cst.Arg] = []
        for spec in specs:
            value = self._value(spec, args)
            if value is None:
                continue
            keyword = cst.Name(spec.keyword) if spec.keyword else None
            source_index = self.bound.args.get(spec.source) if spec.source else None
            reuse = (
                source_index is not None
                and not spec.template
                and not spec.choose
                and value is args[source_index].value
            )
            if reuse:
                old = args[source_index]
                node = old.with_changes(
                    keyword=keyword,
                    equal=_EQUAL if keyword else cst.MaybeSentinel.DEFAULT,
                )
                if keyword is not None and old.keyword is not None:
                    node = node.with_changes(equal=old.equal)
            else:
                node = cst.Arg(value=value, keyword=keyword, equal=_EQUAL if keyword else
                               cst.MaybeSentinel.DEFAULT)
            out.append(node)
        seen_keyword = False
        for node in out:
            if node.keyword is not None:
                seen_keyword = True
            elif seen_keyword:
                raise Unsafe(f"registry recipe for {self.entry.name} puts a positional "
                             "argument after a keyword argument")
        return out

    def _value(self, spec: Arg, args: Sequence[cst.Arg]) -> cst.BaseExpression | None:
        if spec.value == PATTERN:
            pattern = self.rewrite.pattern
            if not pattern:
                raise Unsafe(f"registry recipe for {self.entry.name} has no pattern")
            inner = self._args(self.rewrite.pattern_args, args, top=False)
            inner = [_plain_comma(a, last=(i == len(inner) - 1)) for i, a in enumerate(inner)]
            return cst.Call(func=self.expr(pattern), args=inner)
        if spec.value is not None:
            return self.expr(spec.value)
        source = spec.source
        passed = source is not None and source in self.bound.args
        if source is not None and source not in self.params:
            raise Unsafe(f"registry recipe for {self.entry.name} names unknown parameter {source!r}")
        if source is not None and not passed and spec.omit_if_default:
            return None
        if spec.template is not None:
            return self.expr(self._template(spec.template, args))
        assert source is not None, "an Arg needs source, value, template or choose"
        if passed:
            if source in self._multi and not is_simple(args[self.bound.args[source]].value):
                raise Unsafe(f"{self.entry.name}(...): argument {source!r} would be evaluated "
                             "twice; bind it to a name first")
        if spec.choose:
            return self._choose(spec, args)
        if passed:
            return args[self.bound.args[source]].value
        default = self.params[source].default
        if isinstance(default, _Required):
            raise Unsafe(f"{self.entry.name}(...): missing argument {source!r}")
        return self.expr(repr(default))

    def _template(self, template: str, args: Sequence[cst.Arg]) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in self.bound.args:
                node = args[self.bound.args[name]].value
                if name in self._multi and not is_simple(node):
                    raise Unsafe(f"{self.entry.name}(...): argument {name!r} would be "
                                 "evaluated twice; bind it to a name first")
                return _parens(cst.Module([]).code_for_node(node), node)
            param = self.params.get(name)
            if param is None or isinstance(param.default, _Required) or param.default is None:
                # a None default means the old class derived the value: not static
                raise Unsafe(f"{self.entry.name}(...): pass {name}= explicitly to migrate this "
                             "call (its old default is computed at run time)")
            return repr(param.default)

        return re.sub(r"{(\w+)}", fill, template)

    def _choose(self, spec: Arg, args: Sequence[cst.Arg]) -> cst.BaseExpression:
        table = dict(spec.choose)
        source = spec.source
        assert source is not None
        if source in self.bound.args:
            node = args[self.bound.args[source]].value
            ok, value = literal(node)
            if not ok:
                if set(table) == {"True", "False"}:
                    return cst.IfExp(
                        test=node,
                        body=self.expr(table["True"]),
                        orelse=self.expr(table["False"]),
                        lpar=[cst.LeftParen()],
                        rpar=[cst.RightParen()],
                    )
                raise Unsafe(f"{self.entry.name}(...): argument {source!r} must be a literal "
                             "to be mapped")
            key = repr(value)
        else:
            key = repr(self.params[source].default)
        if key not in table:
            raise Unsafe(f"{self.entry.name}(...): {source}={key} has no canonical equivalent")
        return self.expr(table[key])


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
