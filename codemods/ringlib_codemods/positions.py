"""Line and column of the few nodes a report names, in one code generation pass.

libcst's ``PositionProvider`` records a range for every node of the module (about twice the
cost of parsing it); the report needs the start of a handful. This pass generates the code
once, notes where the nodes asked for start and counts lines afterwards, with the same
convention (a statement starts after its leading blank and comment lines).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate
from typing import Iterable

import libcst as cst
from libcst._nodes.internal import CodegenState

_NEWLINE = re.compile(r"\r\n?|\n")


class _NoOp:
    """A context manager that does nothing (cheaper than a generator-based one)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_OP = _NoOp()


class PlainCodegenState(CodegenState):
    """libcst's code generation state without its per-node ``record_syntactic_position``
    context (a generator each time, for position metadata nobody here asks for).

    ``passes``: id(a ``pass`` statement) -> the code it stands for (an excerpt's inner
    stand-ins, see ``excerpt.py``): generated in its place."""

    passes: dict[int, str] = {}
    _pass_at = 0

    def before_codegen(self, node: cst.CSTNode) -> None:
        if self.passes and id(node) in self.passes:
            self._pass_at = len(self.tokens)

    def after_codegen(self, node: cst.CSTNode) -> None:
        if self.passes:
            code = self.passes.get(id(node))
            if code is not None:
                if self.tokens[self._pass_at] != "pass":
                    raise ValueError("a stand-in generated something else than `pass`")
                self.tokens[self._pass_at] = code

    def record_syntactic_position(self, node: cst.CSTNode, *, start_node=None,
                                  end_node=None) -> _NoOp:
        return _NO_OP


class _LineCountingState(PlainCodegenState):
    """A codegen state that notes, for each wanted node, how many tokens came before it;
    ``positions`` turns those counts into (line, column) once the code is generated."""

    def __init__(self, module: cst.Module, wanted: set[int], passes: dict[int, str]) -> None:
        super().__init__(default_indent=module.default_indent,
                         default_newline=module.default_newline)
        self.passes = passes
        self.wanted = wanted
        self.at: dict[int, int] = {}  # id(node) -> tokens before its start
        self.top = {id(statement) for statement in module.body}
        self.starts: dict[int, int] = {}
        self.codes: dict[int, list[str]] = {}  # id(top-level statement) -> its tokens

    def before_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.wanted and key not in self.at:
            self.at[key] = len(self.tokens)
        if key in self.top:
            self.starts[key] = len(self.tokens)
        if self.passes:
            super().before_codegen(node)

    def after_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if self.passes:
            super().after_codegen(node)
        if key in self.top:
            self.codes[key] = self.tokens[self.starts[key]:]

    def record_syntactic_position(self, node: cst.CSTNode, *, start_node=None,
                                  end_node=None) -> _NoOp:
        if id(node) in self.wanted:  # past the leading lines: the statement's own start
            self.at[id(node)] = len(self.tokens)
        return _NO_OP

    def positions(self) -> dict[int, tuple[int, int]]:
        """(line, column), both 1-based, of each wanted node found."""
        text = "".join(self.tokens)
        if "\r" in text:  # a line break may span two tokens: count token by token
            return self._positions_by_token()
        offsets = [0, *accumulate(map(len, self.tokens))]
        ends = [m.end() for m in _NEWLINE.finditer(text)]
        found = {}
        for key, index in self.at.items():
            offset = offsets[index]
            line = bisect_right(ends, offset)
            found[key] = (line + 1, offset - (ends[line - 1] if line else 0) + 1)
        return found

    def _positions_by_token(self) -> dict[int, tuple[int, int]]:
        starts: dict[int, list[int]] = {}
        for key, index in self.at.items():
            starts.setdefault(index, []).append(key)
        found = {}
        line, column = 1, 0
        for index, token in enumerate([*self.tokens, ""]):
            for key in starts.get(index, ()):
                found[key] = (line, column + 1)
            if "\n" in token or "\r" in token:
                parts = _NEWLINE.split(token)
                line += len(parts) - 1
                column = len(parts[-1])
            else:
                column += len(token)
        return found


class _Stop(Exception):
    """Every node asked for has been generated: the rest of the statement is not needed."""


class _AnchoredState(PlainCodegenState):
    """Generates one statement until the nodes asked for are behind, noting where each
    starts (same convention as ``_LineCountingState``) and where the statement's own first
    token (its syntactic start) is."""

    def __init__(self, statement: cst.CSTNode, wanted: set[int], default_indent: str,
                 default_newline: str, indent: str, passes: dict[int, str]) -> None:
        super().__init__(default_indent=default_indent, default_newline=default_newline)
        self.passes = passes
        self.indent_tokens = [indent] if indent else []
        self.statement = statement
        self.wanted = wanted - {id(statement)}
        self.left = len(self.wanted)
        self.at: dict[int, int] = {}
        self.anchor: int | None = None

    def before_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.wanted and key not in self.at:
            self.at[key] = len(self.tokens)
        if self.passes:
            super().before_codegen(node)

    def after_codegen(self, node: cst.CSTNode) -> None:
        if self.passes:
            super().after_codegen(node)
        if id(node) in self.wanted:
            self.left -= 1
            if self.left <= 0 and self.anchor is not None:
                raise _Stop

    def record_syntactic_position(self, node: cst.CSTNode, *, start_node=None,
                                  end_node=None) -> _NoOp:
        if node is self.statement:
            self.anchor = len(self.tokens)
            if self.left <= 0:
                raise _Stop
        elif id(node) in self.wanted:
            self.at[id(node)] = len(self.tokens)
        return _NO_OP


def anchored_positions(statement: cst.CSTNode, nodes: Iterable[cst.CSTNode], text: str,
                       offset: int, module: cst.Module,
                       passes: dict[int, str] | None = None) -> dict[int, int] | None:
    """Offsets in ``text`` of ``statement`` (whose own first token is at ``offset``: known
    from elsewhere, e.g. the ``ast`` tree) and of ``nodes`` inside it, generating only
    ``statement``, and only until the nodes are behind. The generated code from the first
    token on must be ``text`` there, else None (as for a node before that token or outside)."""
    indent = text[text.rfind("\n", 0, offset) + 1: offset]  # the line's text before the start
    if indent.strip(" \t"):
        return None  # not at the start of its line
    state = _AnchoredState(statement, {id(n) for n in nodes}, module.default_indent,
                           module.default_newline, indent, passes or {})
    try:
        statement._codegen(state)
    except _Stop:
        pass
    anchor = state.anchor
    if anchor is None or state.left > 0:
        return None
    tokens = state.tokens
    code = "".join(tokens[anchor:])
    if text[offset: offset + len(code)] != code:
        return None
    found = {id(statement): offset}
    starts = list(accumulate(map(len, tokens[anchor:]), initial=offset))
    for key, index in state.at.items():
        if index < anchor:
            return None  # before the statement's first token (a decorator)
        found[key] = starts[index - anchor]
    return found


def start_positions(module: cst.Module, nodes: Iterable[cst.CSTNode],
                    codes: dict[int, list[str]] | None = None,
                    passes: dict[int, str] | None = None) -> dict[int, tuple[int, int]]:
    """``id(node) -> (line, column)`` (both 1-based) for ``nodes`` of ``module``. ``codes``
    receives the tokens of each top-level statement (code generated once is reused where
    the statement comes out of the transform unchanged)."""
    state = _LineCountingState(module, {id(n) for n in nodes}, passes or {})
    module._codegen(state)
    if codes is not None:
        codes.update(state.codes)
    return state.positions()


class _LeadState(PlainCodegenState):
    """Generates a statement up to its own first token (its syntactic start)."""

    def __init__(self, statement: cst.CSTNode, module: cst.Module, indent: str) -> None:
        super().__init__(default_indent=module.default_indent,
                         default_newline=module.default_newline)
        self.indent_tokens = [indent] if indent else []
        self.statement = statement

    def record_syntactic_position(self, node: cst.CSTNode, *, start_node=None,
                                  end_node=None) -> _NoOp:
        if node is self.statement:
            raise _Stop
        return _NO_OP


def lead(statement: cst.CSTNode, module: cst.Module, indent: str = "") -> str | None:
    """The code a ``statement`` of ``module`` indented by ``indent`` generates before its own
    first token (its leading lines, decorators, indent); None where it has no syntactic start."""
    state = _LeadState(statement, module, indent)
    try:
        statement._codegen(state)
    except _Stop:
        return "".join(state.tokens)
    return None


def generate(statement: cst.CSTNode, module: cst.Module, indent: str,
             passes: dict[int, str] | None = None) -> str:
    """The code of a ``statement`` of ``module`` whose block is indented by ``indent``."""
    state = PlainCodegenState(default_indent=module.default_indent,
                              default_newline=module.default_newline)
    state.passes = passes or {}
    state.indent_tokens = [indent] if indent else []
    statement._codegen(state)
    return "".join(state.tokens)
