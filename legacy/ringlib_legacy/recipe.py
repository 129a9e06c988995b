"""The one interpreter of a registry ``Rewrite``: old call in, canonical call out.

Every reader of a recipe goes through here: the codemod (libcst nodes of the user's call),
the parity harness and ``render_call`` (Python source text; runtime values become source
through ``from_values``). What differs between them is only the kind of expression, so the
interpreter is written against a small ``Expressions`` adapter: ``SOURCE`` here works on
source strings, ``ringlib_codemods.recipes`` supplies the libcst one. Nothing here imports
libcst or torch.

``bind`` matches the old call's arguments to the old parameters exactly as Python would;
``Recipe.arguments`` writes the canonical call's arguments. Anything that cannot be mapped
statically raises ``Unsafe`` with the reason the codemod puts in its comment.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any, Generic, Mapping, Protocol, Sequence, TypeVar

from ringlib_legacy.schema import PATTERN, REQUIRED, Arg, LegacyName, Rewrite, is_required

E = TypeVar("E")
POSITIONAL = ("positional_or_keyword", "positional_only")
_PLACEHOLDER = re.compile(r"{(\w+)}")


class Unsafe(Exception):
    """The rewrite cannot be proven safe; ``str(self)`` is the reason."""


class Expressions(Protocol[E]):
    """What the interpreter needs to know about one kind of expression ``E``."""

    def parse(self, source: str) -> E:
        """An expression from recipe source (targets, constants, filled templates)."""

    def code(self, expr: E) -> str:
        """Python source of ``expr``."""

    def literal(self, expr: E) -> tuple[bool, object]:
        """``(True, value)`` when ``expr`` is a plain literal (numbers, strings, None, lists...)."""

    def is_simple(self, expr: E) -> bool:
        """Cheap, side-effect free: may be written twice."""

    def is_atom(self, expr: E) -> bool:
        """Needs no parentheses inside a larger expression (simple, a call or a subscript)."""

    def call(self, func: E, args: Sequence[Written[E]]) -> E:
        """The call ``func(args)`` (the pattern call inside the canonical call)."""

    def either(self, test: E, yes: E, no: E) -> E:
        """``(yes if test else no)``: a flag that is not a literal."""


@dataclass(frozen=True)
class Passed(Generic[E]):
    """One argument of the old call. ``origin`` is the caller's own argument object (a libcst
    ``Arg``), handed back in ``Written`` where the canonical call reuses it unchanged."""

    value: E
    keyword: str | None = None
    star: str = ""  # "*" or "**" for unpacking
    origin: object = None


@dataclass(frozen=True)
class Written(Generic[E]):
    """One argument of the canonical call; ``origin`` is set when it is the caller's argument unchanged."""

    keyword: str | None
    value: E
    origin: object = None


@dataclass
class Bound:
    """The result of binding a call's arguments to the old parameters."""

    args: dict[str, int] = field(default_factory=dict)  # param -> index into the passed arguments
    dropped: list[str] = field(default_factory=list)  # notes on ignored arguments
    default_like: set[str] = field(default_factory=set)  # passed literally equal to the default


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b or (a is None and b is None)


def bind(entry: LegacyName, args: Sequence[Passed[E]], exprs: Expressions[E], *, partial: bool = False) -> Bound:
    """Bind ``args`` to ``entry.params`` like Python's call binding; raise ``Unsafe``.

    ``partial``: leading required arguments may be missing (``functools.partial``)."""
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
        name = arg.keyword
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
        ok, value = exprs.literal(args[index].value)
        at_default = ok and not is_required(param) and _same(value, param.default)
        if at_default:
            bound.default_like.add(param.name)
        if param.role == "ignored":
            del bound.args[param.name]
            note = f"{param.name}= dropped (ignored by the old class"
            bound.dropped.append(note + (f": {param.note})" if param.note else ")"))
        elif param.role == "unsupported" and not at_default:
            why = f": {param.note}" if param.note else ""
            raise Unsafe(f"{entry.name}(...): argument {param.name!r} has no canonical equivalent{why}")
    return bound


def _names(spec: Arg) -> list[str]:
    """The old parameters an argument of the canonical call reads."""
    names = [spec.source] if spec.source else []
    if spec.template:
        names += _PLACEHOLDER.findall(spec.template)
    return names


class Recipe(Generic[E]):
    """A ``Rewrite`` bound to one call site; ``arguments`` writes the canonical call's arguments."""

    def __init__(self, entry: LegacyName, rewrite: Rewrite, bound: Bound, exprs: Expressions[E]) -> None:
        self.entry = entry
        self.rewrite = rewrite
        self.bound = bound
        self.exprs = exprs
        self.sources: set[str] = set()  # every recipe expression written (the codemod imports their roots)
        self.params = {p.name: p for p in entry.params}
        counts: dict[str, int] = {}
        for spec in (*rewrite.args, *rewrite.pattern_args):
            for name in set(_names(spec)):
                counts[name] = counts.get(name, 0) + 1
        self._multi = {n for n, c in counts.items() if c > 1}  # written twice: must be simple

    def expr(self, source: str) -> E:
        self.sources.add(source)
        return self.exprs.parse(source)

    def target(self) -> E:
        return self.expr(self.rewrite.target)

    def unused(self) -> list[str]:
        """Notes for mapped arguments the canonical call does not need."""
        used = {n for spec in (*self.rewrite.args, *self.rewrite.pattern_args) for n in _names(spec)}
        notes = []
        for name in self.bound.args:
            if name not in used and self.params[name].role == "map":
                note = self.params[name].note
                notes.append(f"{name}= dropped (not needed by {self.rewrite.target}" + (f"; {note})" if note else ")"))
        return notes

    def arguments(self, args: Sequence[Passed[E]]) -> list[Written[E]]:
        """The canonical call's arguments for the old call's ``args`` (as bound by ``bind``)."""
        return self._write(self.rewrite.args, args)

    def call(self, args: Sequence[Passed[E]]) -> E:
        """The whole canonical call."""
        return self.exprs.call(self.target(), self.arguments(args))

    def _write(self, specs: Sequence[Arg], args: Sequence[Passed[E]]) -> list[Written[E]]:
        out: list[Written[E]] = []
        for spec in specs:
            value = self._value(spec, args)
            if value is None:
                continue
            index = self.bound.args.get(spec.source) if spec.source else None
            reused = index is not None and not spec.template and not spec.choose and value is args[index].value
            out.append(Written(spec.keyword, value, args[index].origin if reused else None))
        seen_keyword = False
        for written in out:
            if written.keyword is not None:
                seen_keyword = True
            elif seen_keyword:
                raise Unsafe(f"registry recipe for {self.entry.name} puts a positional argument after a keyword "
                             "argument")
        return out

    def _value(self, spec: Arg, args: Sequence[Passed[E]]) -> E | None:
        if spec.value == PATTERN:
            if not self.rewrite.pattern:
                raise Unsafe(f"registry recipe for {self.entry.name} has no pattern")
            inner = self._write(self.rewrite.pattern_args, args)
            return self.exprs.call(self.expr(self.rewrite.pattern), inner)
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
        if source is None:
            raise Unsafe(f"registry recipe for {self.entry.name}: an Arg needs source, value, template or choose")
        if passed:
            self._check_single_use(source, args[self.bound.args[source]].value)
        if spec.choose:
            return self._choose(spec, source, args)
        if passed:
            return args[self.bound.args[source]].value
        default = self.params[source].default
        if default is REQUIRED:
            raise Unsafe(f"{self.entry.name}(...): missing argument {source!r}")
        return self.expr(repr(default))

    def _check_single_use(self, name: str, value: E) -> None:
        if name in self._multi and not self.exprs.is_simple(value):
            raise Unsafe(f"{self.entry.name}(...): argument {name!r} would be evaluated twice; bind it to a "
                         "name first")

    def _template(self, template: str, args: Sequence[Passed[E]]) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in self.bound.args:
                value = args[self.bound.args[name]].value
                self._check_single_use(name, value)
                code = self.exprs.code(value)
                return code if self.exprs.is_atom(value) else f"({code})"
            param = self.params.get(name)
            if param is None or param.default is REQUIRED or param.default is None:
                # a None default means the old class derived the value: not static
                raise Unsafe(f"{self.entry.name}(...): pass {name}= explicitly to migrate this call (its old "
                             "default is computed at run time)")
            return repr(param.default)

        return _PLACEHOLDER.sub(fill, template)

    def _choose(self, spec: Arg, source: str, args: Sequence[Passed[E]]) -> E:
        table = dict(spec.choose)
        if source in self.bound.args:
            value = args[self.bound.args[source]].value
            ok, literal = self.exprs.literal(value)
            if not ok:
                if set(table) == {"True", "False"}:
                    return self.exprs.either(value, self.expr(table["True"]), self.expr(table["False"]))
                raise Unsafe(f"{self.entry.name}(...): argument {source!r} must be a literal to be mapped")
            key = repr(literal)
        else:
            key = repr(self.params[source].default)
        if key not in table:
            raise Unsafe(f"{self.entry.name}(...): {source}={key} has no canonical equivalent")
        return self.expr(table[key])


# ---------------------------------------------------------------------------------------------
# Expressions as Python source text


def _is_simple(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float, complex, str, bytes, bool)) or node.value is None
    if isinstance(node, ast.Attribute):
        return _is_simple(node.value)
    if isinstance(node, ast.UnaryOp):
        return _is_simple(node.operand)
    if isinstance(node, (ast.List, ast.Tuple)):
        return all(_is_simple(e) for e in node.elts)
    return False


class SourceText:
    """``Expressions`` over Python source strings."""

    def parse(self, source: str) -> str:
        return source

    def code(self, expr: str) -> str:
        return expr

    def literal(self, expr: str) -> tuple[bool, object]:
        try:
            return True, ast.literal_eval(expr.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return False, None

    def is_simple(self, expr: str) -> bool:
        return _is_simple(ast.parse(expr.strip(), mode="eval").body)

    def is_atom(self, expr: str) -> bool:
        node = ast.parse(expr.strip(), mode="eval").body
        return _is_simple(node) or isinstance(node, (ast.Call, ast.Subscript))

    def call(self, func: str, args: Sequence[Written[str]]) -> str:
        rendered = (a.value if a.keyword is None else f"{a.keyword}={a.value}" for a in args)
        return f"{func}({', '.join(rendered)})"

    def either(self, test: str, yes: str, no: str) -> str:
        return f"({yes} if {test} else {no})"


SOURCE = SourceText()


def render_call(entry: LegacyName, semantics: str, values: Mapping[str, str]) -> str:
    """Python source of the canonical call for the old call ``entry(**values)``.

    ``values`` maps old parameter names to the Python source of the arguments the old call
    passed (parameters left at their defaults are absent). Raises ``Unsafe`` where the
    recipe cannot map the call (a required argument missing, a flag without a mapping...).
    """
    args = [Passed(source, keyword=name) for name, source in values.items()]
    bound = bind(entry, args, SOURCE)
    return Recipe(entry, entry.rewrites[semantics], bound, SOURCE).call(args)


def is_literal(value: Any) -> bool:
    """Values whose ``repr`` is valid Python source that evaluates back to them."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(is_literal(v) for v in value)
    if isinstance(value, dict):
        return all(is_literal(k) and is_literal(v) for k, v in value.items())
    return False


def from_values(kwargs: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """Runtime keyword values as source: ``(sources, namespace)``.

    Literals render as their ``repr``; other values (config objects, tensors) as a variable
    bound in ``namespace``, the way a user's code would reference them."""
    sources: dict[str, str] = {}
    namespace: dict[str, Any] = {}
    for name, value in kwargs.items():
        if is_literal(value):
            sources[name] = repr(value)
        else:
            sources[name] = f"_arg_{name}"
            namespace[sources[name]] = value
    return sources, namespace
