"""Line and column of the few nodes a report names, in one code generation pass.

libcst's ``PositionProvider`` records a range for every node of the module (about twice the
cost of parsing it); the report needs the start of a handful. This pass generates the code
once, counts lines as tokens go by and records only the nodes asked for, with the same
convention (a statement starts after its leading blank and comment lines).
"""

from __future__ import annotations

import re
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
    context (a generator each time, for position metadata nobody here asks for)."""

    def record_syntactic_position(self, node: cst.CSTNode, *, start_node=None,
                                  end_node=None) -> _NoOp:
        return _NO_OP


class _LineCountingState(PlainCodegenState):
    """A codegen state that tracks (line, column) and notes where wanted nodes start."""

    def __init__(self, module: cst.Module, wanted: set[int]) -> None:
        super().__init__(default_indent=module.default_indent,
                         default_newline=module.default_newline)
        self.wanted = wanted
        self.found: dict[int, tuple[int, int]] = {}
        self.line = 1
        self.column = 0
        self.top = {id(statement) for statement in module.body}
        self.starts: dict[int, int] = {}
        self.codes: dict[int, list[str]] = {}  # id(top-level statement) -> its tokens

    def _advance(self, value: str) -> None:
        if "\n" in value or "\r" in value:
            parts = _NEWLINE.split(value)
            self.line += len(parts) - 1
            self.column = len(parts[-1])
        else:
            self.column += len(value)

    def add_indent_tokens(self) -> None:
        self.tokens.extend(self.indent_tokens)
        for token in self.indent_tokens:
            self.column += len(token)

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        self._advance(value)

    def before_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.wanted and key not in self.found:
            self.found[key] = (self.line, self.column + 1)
        if key in self.top:
            self.starts[key] = len(self.tokens)

    def after_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.top:
            self.codes[key] = self.tokens[self.starts[key]:]

    def record_syntactic_position(self, node: cst.CSTNode, *, start_node=None,
                                  end_node=None) -> _NoOp:
        if id(node) in self.wanted:  # past the leading lines: the statement's own start
            self.found[id(node)] = (self.line, self.column + 1)
        return _NO_OP


def start_positions(module: cst.Module, nodes: Iterable[cst.CSTNode],
                    codes: dict[int, list[str]] | None = None) -> dict[int, tuple[int, int]]:
    """``id(node) -> (line, column)`` (both 1-based) for ``nodes`` of ``module``. ``codes``
    receives the tokens of each top-level statement (code generated once is reused where
    the statement comes out of the transform unchanged)."""
    state = _LineCountingState(module, {id(n) for n in nodes})
    module._codegen(state)
    if codes is not None:
        codes.update(state.codes)
    return state.found
