"""An excerpt of a module: only the top-level statements a migration can touch, parsed by libcst.

Ordinary code uses the old package in a few statements of a file; parsing all of it with
libcst (and walking, resolving and regenerating it) costs far more than the statements that
matter. The standard library's ``ast`` (C, a few percent of a libcst parse) gives every
top-level statement's exact line span; a statement is kept when it may refer to an old name
(its text names the old package, a name an old import binds, ``__all__``, a relative import)
or holds a module-level import. Every other statement is replaced in the excerpt by a
one-line ``pass`` stand-in, so the excerpt has the same top-level statements, in the same
order, with the same comments and blank lines between them: the rules see the module's
shape and decide exactly as on the whole module. ``splice`` generates the new module with
each stand-in's original lines in its place (the lines never went through libcst).

Inside a kept top-level function the same holds line by line: a statement line the text
does not tie to an old name stands in as ``pass`` (inner stand-ins; never an import,
``global`` or ``nonlocal``, never in a class body), and every code generation of the excerpt
puts its code back (``positions.PlainCodegenState.passes``). Code the transform left as it
was is cut from the source rather than generated (``code_of``, ``code_with_changed_lines``),
where the code libcst generates around the cut is checked to be the source's.

Whatever the excerpt cannot decide raises ``WholeModule`` (or ``build`` returns None) and
the caller migrates the whole module instead: an encoding cookie or BOM, mixed newlines, a
backslash continuation after a statement, source ``ast`` rejects, libcst's ``ScopeProvider``
being needed, and the few module-level decisions that read unkept statements.
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Iterator

import libcst as cst

from ringlib_codemods.index import LegacyIndex
from ringlib_codemods.positions import PlainCodegenState, generate, lead

_NEWLINE = re.compile(r"\r\n?|\n")  # Python's and libcst's line breaks (not str.splitlines)
_COOKIE = re.compile(r"^[ \t\f]*#.*?coding[:=]", re.MULTILINE)
_COMPOUND_WITHOUT_SCOPE = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With,
                           ast.AsyncWith, ast.Match, getattr(ast, "TryStar", ast.Try))


class WholeModule(Exception):
    """The excerpt cannot decide this case: migrate the whole module."""


@dataclass
class Unit:
    """Top-level statements sharing lines (``a = 1; b = 2`` is one libcst statement line)."""

    first: int  # 1-based line of its first decorator or token
    end: int  # 1-based last line
    statements: list[ast.stmt]
    kept: bool = False


@dataclass(eq=False)
class Excerpt:
    """A module's kept statements parsed by libcst, and how to put the whole module back."""

    text: str
    tree: ast.Module
    module: cst.Module
    units: list[Unit]
    originals: dict[int, str]  # id(the stand-in's Pass node) -> the original lines it stands for
    shifts: tuple[list[int], list[int]]  # excerpt lines where a shift starts, and its size
    _private_owners: set[str] | None = field(default=None, repr=False)
    _starts: dict[int, ast.AST] | None = field(default=None, repr=False)
    _line_starts: list[int] | None = field(default=None, repr=False)
    _index: dict[int, int] | None = field(default=None, repr=False)
    _cuttable: bool | None = field(default=None, repr=False)
    #: inner stand-ins: id(first statement of the line) -> the line's statements, and
    #: id(the ``pass`` standing for them) -> their code (from the line's indent to its end)
    inner: dict[int, list[ast.stmt]] = field(default_factory=dict, repr=False)
    passes: dict[int, str] = field(default_factory=dict, repr=False)
    _begins: dict[int, int | None] = field(default_factory=dict, repr=False)

    # -- positions --------------------------------------------------------------------------
    def original_line(self, line: int) -> int:
        """The module's line for a line of the excerpt."""
        starts, sizes = self.shifts
        i = bisect_right(starts, line)
        return line + (sizes[i - 1] if i else 0)

    def offset(self, line: int, column: int) -> int:
        """The offset in ``text`` of a 1-based line and 0-based column."""
        if self._line_starts is None:
            self._line_starts = _line_starts(self.text)
        return self._line_starts[line - 1] + column

    def line_column(self, offset: int) -> tuple[int, int]:
        """(line, column), both 1-based, of an offset in ``text``."""
        if self._line_starts is None:
            self._line_starts = _line_starts(self.text)
        line = bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def cuttable(self) -> bool:
        """Whether code generated for a statement of the excerpt is the source's text at its
        place, as libcst promises, with the two exceptions left out here: a carriage return
        (a line break may then span two tokens) and a form feed (libcst drops one that
        begins a statement's line)."""
        if self._cuttable is None:
            self._cuttable = "\r" not in self.text and "\f" not in self.text
        return self._cuttable

    def statement_node(self, statement: cst.CSTNode) -> ast.AST | None:
        """The ``ast`` node of a statement of the excerpt (a statement line: its first small
        statement), from both trees walked side by side; None where they do not pair up."""
        if self._starts is None:
            self._starts = {}
            for unit, node in zip(self.units, self.module.body):
                if unit.kept and not _pair(node, unit.statements, self._starts, self):
                    self._starts.clear()
                    break
        return self._starts.get(id(statement))

    # -- decisions that read statements outside the excerpt ----------------------------------
    def private_use_outside(self, owner: str) -> bool:
        """Whether ``owner._attr`` is used in a statement the excerpt left out."""
        if self._private_owners is None:
            self._private_owners = set()
            for unit in self.units:
                if not unit.kept:
                    for statement in unit.statements:
                        self._private_owners.update(_private_owners(statement))
            for group in self.inner.values():
                for statement in group:
                    self._private_owners.update(_private_owners(statement))
        return owner in self._private_owners

    def default_indent(self) -> str | None:
        """The whole module's default indent as libcst detects it (the relative indent of
        its first indented block), or None where the excerpt cannot tell."""
        starts = _line_starts(self.text)
        for unit in self.units:
            statement = unit.statements[0]
            if not _compound(statement):
                continue
            line = _opening_line(statement, self.text, starts)
            if unit.kept and (line is not None or isinstance(statement, ast.Match)):
                return self.module.default_indent  # the excerpt detects it where libcst does
            if line is None:
                return None
            indent = line[: len(line) - len(line.lstrip(" \t"))]
            return indent if line[len(indent):][:1] != "\f" else None
        return self.module.default_indent

    # -- code -------------------------------------------------------------------------------
    def splice(self, new: cst.Module, generated: dict[int, list[str]] | None = None,
               originals: dict[int, tuple[cst.CSTNode, cst.CSTNode]] | None = None) -> str:
        """The code of the migrated excerpt ``new`` with every stand-in's original lines.
        ``generated``: tokens already generated for statements of the excerpt (by id), reused
        where the transform left the statement as it was. ``originals``: id(statement of
        ``new``) -> (that statement, the excerpt's statement it was made from)."""
        state = PlainCodegenState(default_indent=new.default_indent, default_newline=new.default_newline)
        state.passes = self.passes
        generated = generated or {}
        same = new.default_indent == self.module.default_indent \
            and new.default_newline == self.module.default_newline
        for line in new.header:
            line._codegen(state)
        for statement in new.body:
            original = self._original(statement)
            if original is None:
                tokens = generated.get(id(statement)) if same else None
                if tokens is not None:
                    state.tokens.extend(tokens)
                    continue
                code = None
                if same and new.has_trailing_newline:
                    code = self.code_of(statement)
                    source = (originals or {}).get(id(statement))
                    if code is None and source is not None and source[0] is statement:
                        code = self.code_with_changed_lines(source[1], statement)
                if code is not None:
                    state.add_token(code)
                else:
                    statement._codegen(state)
                continue
            for line in statement.leading_lines:
                line._codegen(state)
            match = _NEWLINE.search(original, max(0, len(original) - 2))
            if match is not None and match.end() == len(original):
                state.add_token(original[: match.start()])
                state.add_token(match.group())
            else:  # the last line of a file without a final newline (popped below)
                state.add_token(original)
                state.add_token(new.default_newline)
        for line in new.footer:
            line._codegen(state)
        if new.has_trailing_newline:
            if not state.tokens:
                state.add_token(new.default_newline)
        else:
            state.pop_trailing_newline()
        return "".join(state.tokens)

    def code_of(self, statement: cst.CSTNode) -> str | None:
        """The code libcst generates for a top-level statement of the excerpt (but the last),
        cut from the source: from where its code begins to where the next one's begins. None
        where that cannot be placed exactly (see ``_begin``)."""
        if not self.cuttable():
            return None
        if self._index is None:
            self._index = {id(s): i for i, s in enumerate(self.module.body)}
        i = self._index.get(id(statement))
        if i is None or i + 1 >= len(self.module.body):
            return None
        begin, end = self._begin(i), self._begin(i + 1)
        if begin is None or end is None or end < begin:
            return None
        return self.text[begin:end]

    def _begin(self, i: int) -> int | None:
        """Where the code of the excerpt's ``i``-th top-level statement begins in ``text``:
        its own first token is where ``ast`` places it (a stand-in: its unit's first line),
        and the code generated before that token (leading lines, decorators) must be the
        source's text right before it."""
        if i in self._begins:
            return self._begins[i]
        statement, unit = self.module.body[i], self.units[i]
        begin = None
        if unit.kept:
            node = self.statement_node(statement)
            anchor = self.offset(node.lineno, node.col_offset) if node is not None else None
        else:
            anchor = self.offset(unit.first, 0)
        prefix = lead(statement, self.module) if anchor is not None else None
        if prefix is not None and len(prefix) <= anchor \
                and self.text[anchor - len(prefix): anchor] == prefix:
            begin = anchor - len(prefix)
        self._begins[i] = begin
        return begin

    def code_with_changed_lines(self, original: cst.CSTNode, new: cst.CSTNode) -> str | None:
        """The code of ``new``, the transform's version of the top-level compound statement
        ``original``, where only statement lines inside it changed (its own parts and every
        block around them are the same nodes): the source's code of ``original`` with each
        changed line's code generated in its place. None where anything else changed or a
        line cannot be placed exactly."""
        if type(original) is cst.SimpleStatementLine:
            return None
        code = self.code_of(original)
        changed: list[tuple[cst.CSTNode, cst.CSTNode]] = []
        if code is None or not _changed_lines(original, new, changed):
            return None
        begin = self._begins[self._index[id(original)]]  # type: ignore[index]
        end = begin + len(code)
        spans = []
        for old_line, new_line in changed:
            span = self._line_span(old_line)
            if span is None:
                return None
            spans.append((*span, new_line))
        spans.sort(key=lambda span: span[0])
        pieces, at = [], begin
        for start, stop, indent, new_line in spans:
            if start < at or stop > end:
                return None
            pieces += [self.text[at:start], generate(new_line, self.module, indent, self.passes)]
            at = stop
        pieces.append(self.text[at:end])
        return "".join(pieces)

    def _line_span(self, line: cst.CSTNode) -> tuple[int, int, str] | None:
        """(begin, end, indent) of a statement line inside a kept statement: its code begins
        where the code generated before its first token (leading lines, indent) is the source's
        text right before where ``ast`` places that token, and ends with its last line."""
        first = self.statement_node(line)
        last = self._starts.get(~id(line)) if self._starts else None
        if first is None or last is None or last.end_lineno is None:
            return None
        anchor = self.offset(first.lineno, first.col_offset)
        starts = self._line_starts
        assert starts is not None
        indent = self.text[starts[first.lineno - 1]: anchor]
        if indent.strip(" \t"):
            return None
        prefix = lead(line, self.module, indent)
        if prefix is None or len(prefix) > anchor or self.text[anchor - len(prefix): anchor] != prefix:
            return None
        end = starts[last.end_lineno] if last.end_lineno < len(starts) else len(self.text)
        if end <= anchor or (end < len(self.text) and self.text[end - 1] != "\n"):
            return None
        return anchor - len(prefix), end, indent

    def inner_code(self, group: list[ast.stmt]) -> str:
        """The code an inner stand-in's ``pass`` stands for: from the first statement to the
        end of the last line (its comment included), without the line break."""
        line = self.offset(group[-1].end_lineno or group[-1].lineno, 0)
        end = _NEWLINE.search(self.text, line)
        return self.text[self.offset(group[0].lineno, group[0].col_offset): end.start() if end else None]

    def _original(self, statement: cst.CSTNode) -> str | None:
        if type(statement) is cst.SimpleStatementLine and len(statement.body) == 1:
            return self.originals.get(id(statement.body[0]))
        return None


_PAIRS: dict[type, tuple[type, ...]] = {
    cst.FunctionDef: (ast.FunctionDef, ast.AsyncFunctionDef), cst.ClassDef: (ast.ClassDef,),
    cst.If: (ast.If,), cst.For: (ast.For, ast.AsyncFor), cst.While: (ast.While,),
    cst.With: (ast.With, ast.AsyncWith), cst.Try: (ast.Try,), cst.Match: (ast.Match,),
}
if hasattr(ast, "TryStar"):
    _PAIRS[cst.TryStar] = (ast.TryStar,)


def _pair(node: cst.CSTNode, statements: list[ast.stmt], found: dict[int, ast.AST],
          part: "Excerpt") -> bool:
    """Pair a libcst statement (and the statements inside) with the ``ast`` statements it
    is made of; False where the two trees disagree."""
    if type(node) is cst.SimpleStatementLine:
        if len(node.body) != len(statements):
            return False
        found[id(node)] = statements[0]
        found[~id(node)] = statements[-1]  # its last line: where the last one ends
        return True
    if len(statements) != 1 or type(statements[0]) not in _PAIRS.get(type(node), ()):
        return False
    statement = statements[0]
    found[id(node)] = statement
    if type(node) is cst.Match:
        return len(node.cases) == len(statement.cases) and all(
            _pair_block(case.body, ast_case.body, found, part)
            for case, ast_case in zip(node.cases, statement.cases))
    if not _pair_block(node.body, statement.body, found, part):
        return False
    handlers = getattr(node, "handlers", ())
    if len(handlers) != len(getattr(statement, "handlers", ())):
        return False
    for handler, ast_handler in zip(handlers, getattr(statement, "handlers", ())):
        found[id(handler)] = ast_handler
        if not _pair_block(handler.body, ast_handler.body, found, part):
            return False
    orelse = getattr(node, "orelse", None)
    ast_orelse = getattr(statement, "orelse", [])
    if orelse is None:
        if ast_orelse:
            return False
    elif type(orelse) is cst.If:
        if not _pair(orelse, ast_orelse, found, part):
            return False
    elif not _pair_block(orelse.body, ast_orelse, found, part):
        return False
    final = getattr(node, "finalbody", None)
    ast_final = getattr(statement, "finalbody", [])
    if final is None:
        return not ast_final
    return _pair_block(final.body, ast_final, found, part)


def _pair_block(suite: cst.CSTNode, statements: list[ast.stmt], found: dict[int, ast.AST],
                part: "Excerpt") -> bool:
    if type(suite) is cst.SimpleStatementSuite:
        return len(suite.body) == len(statements)
    i = 0
    for node in suite.body:  # type: ignore[attr-defined]
        group = part.inner.get(id(statements[i])) if i < len(statements) and part.inner else None
        if group is not None:  # an inner stand-in: one ``pass`` for the line's statements
            if type(node) is not cst.SimpleStatementLine or len(node.body) != 1 \
                    or type(node.body[0]) is not cst.Pass:
                return False
            found[id(node)], found[~id(node)] = group[0], group[-1]
            part.passes[id(node.body[0])] = part.inner_code(group)
            i += len(group)
            continue
        size = len(node.body) if type(node) is cst.SimpleStatementLine else 1
        if not _pair(node, statements[i: i + size], found, part):
            return False
        i += size
    return i == len(statements)


def _inner_stand_ins(body: list[ast.stmt], hit: set[int], text: str, starts: list[int],
                     found: dict[int, list[ast.stmt]]) -> bool:
    """Statement lines of a function body (and of the blocks inside, not of a class) that
    can stand in: no line of theirs matched, nothing in them binds beyond their function's
    plain assignments the ``ast`` pass sees anyway (no import, global, nonlocal), each
    begins its line and ends it (no backslash after). True where the blocks hold an import
    (then the names it binds may be used anywhere in the function: none may stand in)."""
    binds = False
    groups: list[list[ast.stmt]] = []
    for statement in body:  # statements sharing lines make one libcst statement line
        if groups and statement.lineno <= (groups[-1][-1].end_lineno or groups[-1][-1].lineno):
            groups[-1].append(statement)
        else:
            groups.append([statement])
    for group in groups:
        first = group[0]
        if len(group) == 1 and (_compound(first)):
            if isinstance(first, ast.ClassDef):
                continue
            blocks = [getattr(first, name, None) or [] for name in ("body", "orelse", "finalbody")]
            blocks += [handler.body for handler in getattr(first, "handlers", ()) or ()]
            blocks += [case.body for case in getattr(first, "cases", ()) or ()]
            for block in blocks:
                if block and _inner_stand_ins(block, hit, text, starts, found):
                    binds = True
            continue
        if any(isinstance(s, _BINDERS) for s in group):
            binds = True
            continue
        if any(_compound(s) for s in group):
            continue
        begin, end = first.lineno, max(s.end_lineno or s.lineno for s in group)
        if any(line in hit for line in range(begin, end + 1)):
            continue
        indent = text[starts[begin - 1]: starts[begin - 1] + first.col_offset]
        if indent.strip(" \t") or "\n" in indent:
            continue
        last = text[starts[end - 1]: starts[end] if end < len(starts) else None]
        if last.rstrip("\r\n").endswith("\\"):
            continue
        found[id(first)] = group
    return binds


_BINDERS = (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal)
_BLOCKS = (cst.BaseCompoundStatement, cst.IndentedBlock, cst.Else, cst.Finally,
           cst.ExceptHandler, cst.ExceptStarHandler, cst.MatchCase)
_LINES_AND_BLOCKS = (cst.SimpleStatementLine, *_BLOCKS)


def _changed_lines(original: cst.CSTNode, new: cst.CSTNode,
                   changed: list[tuple[cst.CSTNode, cst.CSTNode]]) -> bool:
    """Collect the statement lines of ``new`` that are not those of ``original`` (with the
    lines they replace); False where anything but statement lines differs (a block's own
    parts, a header, a decorator, a line added or removed)."""
    if new is original:
        return True
    if type(new) is not type(original):
        return False
    if type(original) is cst.SimpleStatementLine:
        changed.append((original, new))
        return True
    if not isinstance(original, _BLOCKS):
        return False
    for name in original.__dataclass_fields__:
        before, after = getattr(original, name), getattr(new, name)
        if before is after:
            continue
        if isinstance(before, (list, tuple)):
            if not isinstance(after, (list, tuple)) or len(before) != len(after):
                return False
            for old_item, new_item in zip(before, after):
                if old_item is not new_item and not (
                        isinstance(old_item, _LINES_AND_BLOCKS)
                        and _changed_lines(old_item, new_item, changed)):
                    return False
        elif isinstance(before, cst.CSTNode):
            if not (isinstance(before, _LINES_AND_BLOCKS) and _changed_lines(before, after, changed)):
                return False
        elif type(before) is not type(after) or before != after:
            return False
    return True


def _compound(statement: ast.stmt) -> bool:
    return hasattr(statement, "body") or isinstance(statement, ast.Match)


def _line_starts(text: str) -> list[int]:
    """Offset of each line's start; line ``n`` (1-based) is ``text[starts[n-1]:starts[n]]``."""
    return [0, *(m.end() for m in _NEWLINE.finditer(text))]


def _first_line(statement: ast.stmt) -> int:
    decorators = getattr(statement, "decorator_list", None)
    if decorators:
        return min(statement.lineno, *(d.lineno for d in decorators))
    return statement.lineno


def _units(tree: ast.Module) -> list[Unit]:
    units: list[Unit] = []
    for statement in tree.body:
        first = _first_line(statement)
        end = statement.end_lineno or statement.lineno
        if units and first <= units[-1].end:
            units[-1].end = max(units[-1].end, end)
            units[-1].statements.append(statement)
        else:
            units.append(Unit(first, end, [statement]))
    return units


def _holds_module_import(statement: ast.stmt) -> bool:
    """An import that binds at module level (also inside top-level if/try/with/...)."""
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return True
    if not isinstance(statement, _COMPOUND_WITHOUT_SCOPE):
        return False
    return any(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.walk(statement))


def _old_import_names(tree: ast.Module, index: LegacyIndex) -> set[str]:
    """Names bound at module level by imports that may be old (relative ones included):
    a superset of what the light resolution binds."""
    names: set[str] = set()
    for statement in _module_level(tree.body):
        if isinstance(statement, ast.ImportFrom):
            if statement.level or index.normalize(statement.module or "") is not None:
                names.update(a.asname or a.name for a in statement.names if a.name != "*")
        elif isinstance(statement, ast.Import):
            for alias in statement.names:
                if index.normalize(alias.name) is not None:
                    names.add(alias.asname or alias.name.split(".")[0])
    return names


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for statement in body:
        yield statement
        if isinstance(statement, _COMPOUND_WITHOUT_SCOPE):
            for name in ("body", "orelse", "finalbody"):
                yield from _module_level(getattr(statement, name, []) or [])
            for handler in getattr(statement, "handlers", []) or []:
                yield from _module_level(handler.body)
            for case in getattr(statement, "cases", []) or []:
                yield from _module_level(case.body)


def _opening_line(statement: ast.stmt, text: str, starts: list[int]) -> str | None:
    """The line of the first statement of ``statement``'s body where that plainly begins an
    indented block (it begins its line, after whitespace); else None."""
    body = getattr(statement, "body", None) or []
    first = body[0] if body else None
    if first is None or getattr(first, "decorator_list", None):
        return None
    line = text[starts[first.lineno - 1]: starts[first.lineno] if first.lineno < len(starts) else None]
    prefix = line.encode("utf-8")[: first.col_offset]
    return line if prefix and not prefix.strip() else None


def _dotted(node: ast.AST) -> str | None:
    """What libcst's ``get_full_name_for_node`` gives for the same expression."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    if isinstance(node, ast.Subscript):
        return _dotted(node.value)
    return None


def _private_owners(statement: ast.stmt) -> Iterator[str]:
    for node in ast.walk(statement):
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_") and not node.attr.endswith("__"):
                owner = _dotted(node.value)
                if owner:
                    yield owner
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:  # ``import a._b``: libcst sees an attribute
                parts = alias.name.split(".")
                for i in range(1, len(parts)):
                    if parts[i].startswith("_") and not parts[i].endswith("__"):
                        yield ".".join(parts[:i])


def _decode(source: str | bytes) -> str | None:
    """The text, where libcst would read it as plain UTF-8 (no BOM, no encoding cookie)."""
    if isinstance(source, bytes):
        if source.startswith(b"\xef\xbb\xbf"):
            return None
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError:
            return None
    else:
        text = source
        if text.startswith("\ufeff"):
            return None
    head = _line_starts(text[:4096])
    if _COOKIE.search(text[: head[2] if len(head) > 2 else 4096]):
        return None
    return text


def build(source: str | bytes, index: LegacyIndex) -> Excerpt | None:
    """The excerpt of ``source``, or None where only the whole module can be migrated."""
    text = _decode(source)
    if text is None:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    units = _units(tree)
    if not units:
        return None
    starts = _line_starts(text)
    lines = len(starts)

    def span(first: int, last: int) -> str:  # lines first..last (1-based, inclusive)
        return text[starts[first - 1]: starts[last] if last < lines else None]

    # keep: what the text or the imports say a rule may need
    names = _old_import_names(tree, index) | {"__all__"}
    words = "|".join(re.escape(n) for n in sorted(names))
    packages = "|".join(re.escape(p) for p in sorted(index.packages))
    pattern = re.compile(rf"(?<![\w])(?:{words})(?![\w])|{packages}|\bfrom[ \t\f\\\r\n]*\.")
    firsts = [u.first for u in units]
    hit: set[int] = set()  # lines the pattern matches on
    for match in pattern.finditer(text):
        line = bisect_right(starts, match.start())
        hit.add(line)
        at = bisect_right(firsts, line) - 1
        if at >= 0 and line <= units[at].end:
            units[at].kept = True
    for unit in units:
        if not unit.kept and any(_holds_module_import(s) for s in unit.statements):
            unit.kept = True
        if span(unit.end, unit.end).rstrip("\r\n").endswith("\\"):
            return None  # a continuation joins the next line: libcst sees one statement
    # an indented comment after a compound statement may belong to its block (libcst's
    # footer) or to the next statement: keep both so libcst decides as on the whole module
    for i in range(len(units) - 1, 0, -1):
        before, unit = units[i - 1], units[i]
        if unit.kept and not before.kept and _compound(before.statements[-1]):
            gap = span(before.end + 1, unit.first - 1) if unit.first > before.end + 1 else ""
            if any(line[:1] in (" ", "\t", "\f") for line in _NEWLINE.split(gap)):
                before.kept = True
    if all(unit.kept for unit in units):
        return None  # nothing to leave out: the whole module is the excerpt

    # inside a kept top-level function, statement lines the pattern does not match stand in
    # too (never an import, global or nonlocal: they bind; never in a class body)
    inner: dict[int, list[ast.stmt]] = {}  # id(first statement of a line) -> the line's statements
    if "\r" not in text and "\f" not in text:
        for unit in units:
            if unit.kept and len(unit.statements) == 1 \
                    and type(unit.statements[0]) in (ast.FunctionDef, ast.AsyncFunctionDef):
                groups: dict[int, list[ast.stmt]] = {}
                if not _inner_stand_ins(unit.statements[0].body, hit, text, starts, groups):
                    inner.update(groups)  # (an import inside binds names the pattern misses)
    inner_firsts = sorted((group[0].lineno, group[-1].end_lineno, group[0].col_offset)
                          for group in inner.values())

    def kept_text(first: int, last: int) -> str:
        """Lines first..last, each inner stand-in's lines as one ``pass`` line."""
        out, at = [], first
        k = bisect_right(inner_firsts, (first, 0, 0))
        while k < len(inner_firsts) and inner_firsts[k][0] <= last:
            begin, end, column = inner_firsts[k]
            lines = span(end, end)
            ending = _NEWLINE.search(lines, max(0, len(lines) - 2))
            newline = ending.group() if ending is not None and ending.end() == len(lines) else ""
            out += [span(at, begin - 1) if begin > at else "", text[starts[begin - 1]: starts[begin - 1] + column],
                    "pass", newline]
            at = end + 1
            k += 1
        out.append(span(at, last) if at <= last else "")
        return "".join(out)

    pieces: list[str] = []
    shift_starts: list[int] = []
    shift_sizes: list[int] = []
    stand_ins: dict[int, str] = {}  # unit index -> original lines
    previous, line, shift = 0, 1, 0
    for i, unit in enumerate(units):
        gap = span(previous + 1, unit.first - 1) if unit.first > previous + 1 else ""
        original = span(unit.first, unit.end)
        line += unit.first - 1 - previous
        if unit.kept:
            pieces.append(gap + (kept_text(unit.first, unit.end) if inner else original))
            line += unit.end - unit.first + 1  # counted as generated: inner stand-ins restored
        else:
            ending = _NEWLINE.search(original, max(0, len(original) - 2))
            newline = ending.group() if ending is not None and ending.end() == len(original) else ""
            pieces.append(gap + "pass" + newline)
            stand_ins[i] = original
            line += 1
            shift += unit.end - unit.first
            shift_starts.append(line)
            shift_sizes.append(shift)
        previous = unit.end
    pieces.append(text[starts[previous]:] if previous < lines else "")
    partial = "".join(pieces)

    first_newline = _NEWLINE.search(text)
    partial_newline = _NEWLINE.search(partial)
    if (first_newline and first_newline.group()) != (partial_newline and partial_newline.group()):
        return None  # libcst takes the default newline from the first one
    try:
        module = cst.parse_module(partial)
    except (cst.ParserSyntaxError, RecursionError):
        return None
    if len(module.body) != len(units):
        return None
    originals: dict[int, str] = {}
    for i, original in stand_ins.items():
        statement = module.body[i]
        if type(statement) is not cst.SimpleStatementLine or len(statement.body) != 1 \
                or type(statement.body[0]) is not cst.Pass:
            return None
        originals[id(statement.body[0])] = original
    part = Excerpt(text, tree, module, units, originals, (shift_starts, shift_sizes))
    if inner:
        part.inner = inner
        part._starts = {}
        for unit, statement in zip(units, module.body):
            if unit.kept and not _pair(statement, unit.statements, part._starts, part):
                return None
        if len(part.passes) != len(inner):
            return None
    return part
