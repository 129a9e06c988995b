"""Shared name resolution: which expressions of a module denote an old name, and where.

Resolution goes from the imports to their uses through libcst's ``ScopeProvider`` (every
import form, attribute chains, shadowing, relative imports), never through text search. The
result, an ``Analysis``, is computed once per file and read by every rule.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import (
    Access,
    Assignment,
    ImportAssignment,
    MetadataWrapper,
    Scope,
    ScopeProvider,
)

from ringlib_legacy.schema import LegacyName
from ringlib_codemods.index import LegacyIndex
from ringlib_codemods.positions import anchored_positions, start_positions
from ringlib_codemods.binding import Binding
from ringlib_codemods.excerpt import Excerpt, WholeModule
from ringlib_codemods.light import light_resolution
from ringlib_codemods import walk


class Position(str, enum.Enum):
    """The syntactic position of a reference to an old name."""

    CALL = "call"  # Old(...)
    BASE = "base"  # class C(Old)
    ISINSTANCE = "isinstance"  # isinstance(x, Old) / issubclass
    ANNOTATION = "annotation"  # x: Old
    PARTIAL = "partial"  # functools.partial(Old, ...)
    ATTRIBUTE = "attribute"  # Old.attr
    VALUE = "value"  # any other use of the object
    ALL = "__all__"  # __all__ = ["Old"]
    STRING = "string"  # "old_package.module.Old" in a string
    STAR = "star-import"  # from old_package import *
    UNKNOWN_MODULE = "unknown-module"  # import of an old module the registry does not know
    AMBIGUOUS = "ambiguous"  # a name bound both to an old name and to something else
    IMPORT = "import"  # the import statement itself (kept, unused)
    REMOVED = "removed"  # an old name or module the shim does not carry over


STATEMENTS = (cst.SimpleStatementLine, cst.BaseCompoundStatement, cst.ExceptHandler)
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


@dataclass(eq=False)
class Site:
    """One reference to an old name (or to the old package) in the source."""

    node: cst.CSTNode
    position: Position
    statement: cst.CSTNode  # the statement that gets the comment
    ancestors: tuple[cst.CSTNode, ...]  # outermost first, ending with the node's parent
    entry: LegacyName | None = None
    path: str = ""
    binding: Binding | None = None
    accesses: list[cst.CSTNode] = field(default_factory=list)  # access nodes it consumes
    text: str = ""  # for strings: the literal's value

    @property
    def parent(self) -> cst.CSTNode | None:
        return self.ancestors[-1] if self.ancestors else None

    @property
    def name(self) -> str:
        return self.entry.name if self.entry else self.path


def module_parts(path: Path | None) -> list[str] | None:
    """Directory components of ``path``, for resolving relative imports by location."""
    if path is None:
        return None
    return list(Path(path).absolute().parent.parts)


class Analysis:
    """Every reference to an old name in one module, with its position and statement."""

    def __init__(self, module: cst.Module, index: LegacyIndex, path: Path | None = None,
                 source: str | bytes | None = None, light: bool = True,
                 excerpt: Excerpt | None = None) -> None:
        self.module = module
        self.index = index
        self.path = path
        self.excerpt = excerpt  # ``module`` is this excerpt of the source (see excerpt.py)
        self._scopes = None
        self._positions: dict[int, tuple[int, int]] | None = None
        #: id(top-level statement) -> its generated tokens, once positions were asked for
        self.statement_tokens: dict[int, list[str]] = {}
        self._package = module_parts(path)
        tree = excerpt.tree if excerpt is not None else None
        self.light = light_resolution(self, source, tree) if light else None
        if excerpt is not None and (self.light is None or self.light.failed):
            raise WholeModule("the light resolution declines")
        if self.light is not None:
            self.bindings = self.light.bindings
            self._old_assignments: set[int] = set()
        else:
            self.bindings = self._find_bindings()
            self._old_assignments = {id(a) for b in self.bindings.values() for a in b.assignments}
        finder = _SiteFinder(self)
        walk.visit(module, finder, skip=walk.BLANKS, quiet=walk.TOKENS)
        if excerpt is not None and self.light.failed:
            raise WholeModule("the light resolution declines")
        if self.light is not None and self.light.failed:  # a case only libcst decides
            self.__init__(module, index, path, source, light=False)  # type: ignore[misc]
            return
        self.import_order = finder.import_order
        self.import_try = finder.import_try
        self.import_line = finder.import_line
        self.fallback_nodes = finder.fallback_nodes
        self.all_strings = finder.all_strings
        self.private_uses = finder.private_uses
        self.assigned_from_call = finder.assigned_from_call
        self.paths = finder.paths
        self.commented = finder.commented  # statements that may hold a comment
        self.sites: list[Site] = finder.sites
        self.sites.extend(self._resolve_accesses(finder.raw_accesses))
        self.sites.extend(self._dunder_all_sites())
        self.sites.sort(key=lambda s: finder.order.get(id(s.statement), 0))
        self.consumed = {id(n): s for s in self.sites for n in s.accesses}

    @property
    def scopes(self):
        """libcst's ``ScopeProvider`` result, computed on first use (the light pass does
        without it; rules that follow local variables ask for it)."""
        if self._scopes is None:
            if self.excerpt is not None:
                raise WholeModule("libcst's ScopeProvider needs the whole module")
            self._scopes = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(ScopeProvider)
        return self._scopes

    @property
    def module_scope(self):
        """The module's scope: the key rules group module-level imports by."""
        if self.light is not None:
            return self.light.scope
        return self.scopes.get(self.module)

    def module_imports(self) -> list[cst.Import]:
        """``import`` statements that bind a name at module level, in document order."""
        if self.light is not None:
            return self.light.module_imports
        scope = self.scopes.get(self.module)
        if scope is None:
            return []
        return [a.node for a in scope.assignments if isinstance(getattr(a, "node", None), cst.Import)]

    # -- imports --------------------------------------------------------------------------
    def import_module_path(self, node: cst.ImportFrom) -> str | None:
        """The absolute dotted module of a ``from`` import; relative ones by file location."""
        module = get_full_name_for_node(node.module) if node.module else ""
        return self.relative_module(len(node.relative), module)

    def relative_module(self, dots: int, module: str) -> str | None:
        """The absolute dotted module of ``from <dots><module> import``, by file location."""
        if not dots:
            return module
        if self._package is None:
            return None
        base = self._package[: len(self._package) - (dots - 1)]
        return ".".join([*base, module] if module else base)

    def alias_path(self, statement: cst.Import | cst.ImportFrom, alias: cst.ImportAlias,
                   bound: str | None = None) -> str | None:
        """The old path ``alias`` imports, or None where it imports none. ``bound``: for a plain
        ``import a.b`` without ``as``, the dotted name the binding stands for (default: all of it)."""
        real = get_full_name_for_node(alias.name) or ""
        if isinstance(statement, cst.ImportFrom):
            module = self.import_module_path(statement)
            if module is None:
                return None
            dotted = f"{module}.{real}" if module else real
        else:
            dotted = bound if bound is not None and not alias.asname else real
        return self.index.normalize(dotted)

    def _find_bindings(self) -> dict[int, Binding]:
        """Import aliases that bind an old path, keyed by ``id(alias)``."""
        found: dict[int, Binding] = {}
        for scope in {s for s in self.scopes.values() if s is not None}:
            for assignment in scope.assignments:
                if not isinstance(assignment, ImportAssignment):
                    continue
                statement = assignment.node
                alias = _alias_for(statement, assignment.as_name)
                if alias is None:
                    continue
                path = self.alias_path(statement, alias, assignment.name)
                binding = found.get(id(alias))
                if binding is not None:
                    # ``import a.b`` binds both ``a`` and ``a.b``: the binding stands for the
                    # longest dotted name, whichever assignment libcst lists first
                    binding.assignments.append(assignment)
                    if path is not None and len(path) > len(binding.path):
                        binding.path = path
                    continue
                if path is None:
                    continue
                found[id(alias)] = Binding([assignment], path, alias, statement, scope)
        return found

    # -- accesses -------------------------------------------------------------------------
    def _is_old_referent(self, referent: Assignment, binding: Binding) -> bool:
        """Whether a binding of the same name keeps the reference an old one.

        Other old imports do; so does a fallback assignment in the ``except ImportError``
        handler of the ``try`` that holds the old import (``except ImportError: Old = None``).
        """
        if id(referent) in self._old_assignments:
            return True
        try_node = self.import_try.get(id(binding.statement))
        return try_node is not None and self.fallback_nodes.get(id(referent.node)) is try_node

    def _resolve_accesses(self, raw: list[tuple[Binding, Access, tuple]]) -> Iterator[Site]:
        for binding, access, stack in raw:
            statement = _statement_of(stack)
            if self.light is None and not all(self._is_old_referent(r, binding) for r in access.referents):
                entry = self.index.by_path.get(binding.path)
                if entry is not None:
                    yield Site(access.node, Position.AMBIGUOUS, statement, stack[-6:], entry,
                               binding.path, binding, [access.node])
                continue
            if isinstance(access.node, (cst.SimpleString, cst.ConcatenatedString)):
                entry = self.index.by_path.get(binding.path)
                if entry is not None:
                    yield Site(access.node, Position.ANNOTATION, statement, stack[-6:], entry,
                               binding.path, binding, [access.node])
                continue
            node, path, depth = access.node, binding.path, len(stack)
            entry = self.index.by_path.get(path)
            while entry is None and self.index.is_old_module(path):
                parent = stack[depth - 1] if depth else None
                if not (isinstance(parent, cst.Attribute) and parent.value is node):
                    break
                node, path, depth = parent, f"{path}.{parent.attr.value}", depth - 1
                entry = self.index.by_path.get(path)
            if entry is None:
                record = None if self.index.is_old_module(path) else self.index.removed_record(path)
                if record is not None and binding.path != path:
                    yield Site(node, Position.REMOVED, statement, stack[:depth][-6:], None, path,
                               binding, [access.node], text=record.use_instead)
                continue  # not in the registry (out of scope): left alone
            ancestors = stack[:depth]
            position = _classify(self, node, ancestors, access)
            yield Site(node, position, statement, ancestors[-6:], entry, path, binding,
                       [access.node])

    def _dunder_all_sites(self) -> Iterator[Site]:
        """``__all__`` strings naming an old name bound at module level."""
        if not self.all_strings:
            return
        module_scope = self.module_scope
        names = {b.bound_name: b for b in self.bindings.values() if b.scope is module_scope}
        for string, value, statement in self.all_strings:
            binding = names.get(value)
            if binding is None:
                continue
            entry = self.index.by_path.get(binding.path)
            if entry is not None:
                yield Site(string, Position.ALL, statement, (), entry, binding.path, binding,
                           [string], text=value)

    # -- helpers for rules ----------------------------------------------------------------
    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        if self.light is not None:
            names = self.light.qualified_names(node)
            if names is not None:
                return names
        scope = self.scopes.get(node)
        if scope is None:
            return set()
        return {q.name for q in scope.get_qualified_names_for(node)}

    def line_of(self, node: cst.CSTNode) -> tuple[int, int]:
        """(line, column) of ``node``; the first call locates every site and statement in
        one code generation pass, a node outside them costs one more pass."""
        if self._positions is None or id(node) not in self._positions:
            wanted = [node, *self.import_line.values()]
            for site in self.sites:
                wanted += [site.node, site.statement]
                if site.binding is not None:
                    wanted.append(site.binding.alias)
            wanted += [b.alias for b in self.bindings.values()]
            if self._positions is None and self.excerpt is not None:
                found = self._excerpt_positions(node)
                if found is not None:
                    self._positions = found
                    return found[id(node)]
            found = start_positions(self.module, wanted, self.statement_tokens,
                                    self.excerpt.passes if self.excerpt is not None else None)
            for item in wanted:  # asked once: a node of another tree has no position
                found.setdefault(id(item), (0, 0))
            if self.excerpt is not None:
                line = self.excerpt.original_line
                found = {key: (line(row) if row else 0, column) for key, (row, column) in found.items()}
            self._positions = {**(self._positions or {}), **found}
        return self._positions.get(id(node), (0, 0))

    def _excerpt_positions(self, node: cst.CSTNode) -> dict[int, tuple[int, int]] | None:
        """The positions ``line_of`` notes, found without generating the whole excerpt: each
        statement holding a wanted node starts where the ``ast`` tree says (the excerpt keeps
        the source's lines), and only that statement is generated, up to the wanted nodes.
        None where any of them cannot be placed so (a node outside its statement, a decorator,
        a tree pair that disagrees, see ``Excerpt.cuttable``): then the whole pass runs."""
        part = self.excerpt
        if part is None or not part.cuttable():
            return None
        groups: dict[int, tuple[cst.CSTNode, list[cst.CSTNode]]] = {}

        def add(statement: cst.CSTNode | None, *nodes: cst.CSTNode) -> bool:
            if statement is None:
                return False
            group = groups.get(id(statement))
            if group is None:
                group = groups[id(statement)] = (statement, [])
            group[1].extend(nodes)
            return True

        lines = self.import_line
        for line in lines.values():
            add(line)
        for site in self.sites:
            if not add(site.statement, site.node):
                return None
            if site.binding is not None and not add(lines.get(id(site.binding.statement)),
                                                    site.binding.alias):
                return None
        for binding in self.bindings.values():
            if not add(lines.get(id(binding.statement)), binding.alias):
                return None
        offsets: dict[int, int] = {}
        for statement, nodes in groups.values():
            start = part.statement_node(statement)
            if start is None:
                return None
            found = anchored_positions(statement, nodes, part.text,
                                       part.offset(start.lineno, start.col_offset), self.module,
                                       part.passes)
            if found is None:
                return None
            offsets.update(found)
        if id(node) not in offsets:
            return None
        return {key: part.line_column(offset) for key, offset in offsets.items()}

    def module_binds(self, name: str, scope: Scope | None = None) -> bool:
        scope = scope or self.module_scope
        return scope is not None and name in scope

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)


def _alias_for(statement: cst.CSTNode, as_name: cst.CSTNode) -> cst.ImportAlias | None:
    if not isinstance(statement, (cst.Import, cst.ImportFrom)) or isinstance(
        statement.names, cst.ImportStar
    ):
        return None
    for alias in statement.names:
        target = alias.asname.name if alias.asname else alias.name
        if target is as_name:
            return alias
    return None


def _statement_of(stack: Sequence[cst.CSTNode]) -> cst.CSTNode:
    for node in reversed(stack):
        if isinstance(node, STATEMENTS):
            return node
    return stack[0]


def _classify(analysis: Analysis, node, ancestors, access: Access) -> Position:
    parent = ancestors[-1] if ancestors else None
    grand = ancestors[-2] if len(ancestors) > 1 else None
    if isinstance(parent, cst.Call) and parent.func is node:
        return Position.CALL
    if isinstance(parent, cst.Attribute) and parent.value is node:
        return Position.ATTRIBUTE
    if access.is_annotation:
        return Position.ANNOTATION
    if isinstance(parent, cst.Arg) and parent.keyword is None and not parent.star:
        if isinstance(grand, cst.ClassDef) and any(a is parent for a in grand.bases):
            return Position.BASE
        if isinstance(grand, cst.Call):
            qnames = analysis.qualified_names(grand.func)
            if qnames & {"builtins.isinstance", "builtins.issubclass"} and len(grand.args) > 1:
                if grand.args[1] is parent:
                    return Position.ISINSTANCE
            if "functools.partial" in qnames and grand.args and grand.args[0] is parent:
                return Position.PARTIAL
    if (
        isinstance(parent, cst.Element)
        and isinstance(grand, cst.Tuple)
        and len(ancestors) > 3
        and isinstance(ancestors[-3], cst.Arg)
        and isinstance(ancestors[-4], cst.Call)
    ):
        call, arg = ancestors[-4], ancestors[-3]
        qnames = analysis.qualified_names(call.func)
        if (
            qnames & {"builtins.isinstance", "builtins.issubclass"}
            and len(call.args) > 1
            and call.args[1] is arg
        ):
            return Position.ISINSTANCE
    return Position.VALUE


def _handler_catches_import_error(handler: cst.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elements if isinstance(handler.type, cst.Tuple) else [handler.type]
    for t in types:
        expr = t.value if isinstance(t, cst.Element) else t
        name = get_full_name_for_node(expr) or ""
        if name.rsplit(".", 1)[-1] in IMPORT_ERRORS:
            return True
    return False


class _SiteFinder(cst.CSTVisitor):
    """One pass with an ancestor stack: finds access nodes of old bindings, strings,
    ``__all__``, star imports, imports of unknown old modules, and try/except fallbacks."""

    def __init__(self, analysis: Analysis) -> None:
        super().__init__()
        self.analysis = analysis
        self.index = analysis.index
        self.stack: list[cst.CSTNode] = []
        self.access_of: dict[int, tuple[Binding, Access]] = {}
        self.light = analysis.light
        if self.light is None:
            for binding in analysis.bindings.values():
                for access in binding.references:
                    self.access_of[id(access.node)] = (binding, access)
        self.statement_of_import = {id(b.statement): b for b in analysis.bindings.values()}
        self.raw_accesses: list[tuple[Binding, Access, tuple]] = []
        self.sites: list[Site] = []
        self.order: dict[int, int] = {}
        self.import_order: dict[int, int] = {}
        self.import_line: dict[int, cst.CSTNode] = {}
        self.import_try: dict[int, cst.Try] = {}
        self.fallback_nodes: dict[int, cst.Try] = {}
        self.all_strings: list[tuple[cst.SimpleString, str, cst.CSTNode]] = []
        self.private_uses: list[tuple[cst.Attribute, cst.CSTNode]] = []
        self.assigned_from_call: dict[int, str] = {}  # id(Call) -> code of its assignment target
        self._try_body: list[cst.Try] = []
        self._fallback: list[cst.Try] = []
        self._packages = tuple(self.index.packages)
        self.paths: set[int] = set()  # id of every node on the way from the module to a find
        self.commented: set[int] = set()  # id of every statement that may hold a comment

    def _mark(self, node: cst.CSTNode | None = None) -> None:
        """Record the ancestor stack (and ``node``) as a way to something found: the
        transform visits only these nodes (see ``pipeline.Pipeline``)."""
        paths = self.paths
        if node is not None:
            paths.add(id(node))
        for ancestor in reversed(self.stack):
            key = id(ancestor)
            if key in paths:
                return  # marked before, and with it every node above
            paths.add(key)

    # -- traversal ------------------------------------------------------------------------
    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.light is not None and type(node) is cst.Name and node.value in self.light.first_names:
            hit = self.light.access(node, self.stack)
        else:
            hit = self.access_of.get(id(node))
        if hit is not None:
            self._mark(node)
            if type(node) is not cst.Name or node.lpar:
                self._may_hold_comment()  # its subtree is not visited
            if hit[1].node is not node:  # a dotted import reached through an attribute chain
                self.raw_accesses.append((hit[0], hit[1], tuple(self.stack[:-hit[2]])))
                self.stack.append(node)
                return False
            self.raw_accesses.append((hit[0], hit[1], tuple(self.stack)))
            self.stack.append(node)
            return False
        if isinstance(node, STATEMENTS):
            self.order[id(node)] = len(self.order)
        self.stack.append(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        super().on_leave(original_node)
        self.stack.pop()

    def visit_Comment(self, node: cst.Comment) -> None:
        self._may_hold_comment()

    def _may_hold_comment(self) -> None:
        """Record the statements around the current node as holding a comment."""
        for ancestor in reversed(self.stack):
            if isinstance(ancestor, STATEMENTS):
                if id(ancestor) in self.commented:
                    return  # and so are the statements around it
                self.commented.add(id(ancestor))

    # -- try/except ImportError fallbacks ---------------------------------------------------
    def visit_Try(self, node: cst.Try) -> None:
        self._try_body.append(None)  # type: ignore[arg-type]

    def visit_Try_body(self, node: cst.Try) -> None:
        self._try_body[-1] = node

    def leave_Try_body(self, node: cst.Try) -> None:
        self._try_body[-1] = None  # type: ignore[assignment]

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        try_node = self.stack[-2] if len(self.stack) > 1 else None
        if isinstance(try_node, cst.Try) and _handler_catches_import_error(node):
            self._fallback.append(try_node)
        else:
            self._fallback.append(None)  # type: ignore[arg-type]

    def leave_ExceptHandler(self, original_node: cst.ExceptHandler) -> None:
        self._fallback.pop()

    def leave_Try(self, original_node: cst.Try) -> None:
        self._try_body.pop()

    def visit_Name(self, node: cst.Name) -> None:
        if self._fallback and self._fallback[-1] is not None:
            self.fallback_nodes[id(node)] = self._fallback[-1]

    # -- imports --------------------------------------------------------------------------
    def _import(self, node: cst.Import | cst.ImportFrom) -> None:
        self._mark()
        if self.light is not None:
            self.light.seen.add(id(node))
        self.import_order[id(node)] = len(self.import_order)
        self.import_line[id(node)] = self.stack[-2]
        if self._try_body and self._try_body[-1] is not None:
            self.import_try[id(node)] = self._try_body[-1]
        if self._fallback and self._fallback[-1] is not None:
            self.fallback_nodes[id(node)] = self._fallback[-1]

    def visit_Import(self, node: cst.Import) -> bool:
        self._import(node)
        for alias in node.names:
            dotted = get_full_name_for_node(alias.name) or ""
            self._check_module(node, self.index.normalize(dotted), dotted)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        self._import(node)
        if node.lpar is not None:
            self._may_hold_comment()  # its subtree is not visited
        module = self.analysis.import_module_path(node)
        path = self.index.normalize(module) if module else None
        if path is None:
            return False
        if isinstance(node.names, cst.ImportStar):
            self._add(node, Position.STAR, path)
            return False
        if self._check_module(node, path, module):
            for alias in node.names:
                name = f"{path}.{get_full_name_for_node(alias.name)}"
                if name in self.index.by_path or self.index.is_old_module(name):
                    continue
                record = self.index.removed_record(name)
                if record is not None:
                    self._add(node, Position.REMOVED, name, text=record.use_instead)
        return False

    def _check_module(self, node, path: str | None, dotted: str) -> bool:
        """Whether ``path`` is a known old module; an import of an old module path that the
        registry does not know (removed, or never part of the package) gets a site."""
        if path is None:
            return False
        if self.index.is_old_module(path) or path in self.index.by_path:
            return True
        if "." not in path and path in self.index.packages:
            return True
        record = self.index.removed_record(path)
        if record is not None:
            self._add(node, Position.REMOVED, path, text=record.use_instead)
        else:
            self._add(node, Position.UNKNOWN_MODULE, path)
        return False

    # -- strings --------------------------------------------------------------------------
    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        self._string(node)

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString) -> bool:
        self._string(node)
        self._may_hold_comment()  # its subtree is not visited
        return False

    def visit_FormattedString(self, node: cst.FormattedString) -> bool:
        self._string(node)
        return True

    def _string(self, node) -> None:
        parent = self.stack[-2] if len(self.stack) > 1 else None
        if isinstance(parent, cst.Expr):
            return  # a docstring or a bare string statement
        if isinstance(node, cst.FormattedString):
            text = "".join(
                p.value for p in node.parts if isinstance(p, cst.FormattedStringText)
            )
        else:
            try:
                text = node.evaluated_value
            except Exception:  # noqa: BLE001 - bytes or odd escapes: not a reference
                return
            if not isinstance(text, str):
                return
        if self._in_dunder_all():
            statement = _statement_of(self.stack)
            self.all_strings.append((node, text, statement))
            self._mark()
            return
        if not any(p in text for p in self._packages):
            return
        if _mentions_path(text, self._packages):
            self._add(node, Position.STRING, "", text=text)

    def _in_dunder_all(self) -> bool:
        for node in reversed(self.stack):
            if isinstance(node, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
                targets = (
                    [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
                )
                return any(isinstance(t, cst.Name) and t.value == "__all__" for t in targets)
            if isinstance(node, cst.Call):
                func = node.func
                if (
                    isinstance(func, cst.Attribute)
                    and isinstance(func.value, cst.Name)
                    and func.value.value == "__all__"
                ):
                    return True
            if isinstance(node, STATEMENTS):
                return False
        return False

    # -- instance bookkeeping for the call rule -----------------------------------------------
    def visit_Attribute(self, node: cst.Attribute) -> None:
        attr = node.attr.value
        if attr.startswith("_") and not attr.endswith("__"):
            self.private_uses.append((node, _statement_of(self.stack)))

    def visit_Assign(self, node: cst.Assign) -> None:
        if isinstance(node.value, cst.Call) and len(node.targets) == 1:
            target = node.targets[0].target
            if isinstance(target, (cst.Name, cst.Attribute)):
                self.assigned_from_call[id(node.value)] = get_full_name_for_node(target) or ""

    def _add(self, node, position: Position, path: str, text: str = "") -> None:
        self._mark()
        statement = _statement_of(self.stack)
        entry = self.index.by_path.get(path) if path else None
        self.sites.append(Site(node, position, statement, tuple(self.stack[-6:-1]), entry, path,
                               text=text))


def _mentions_path(text: str, packages: Sequence[str]) -> bool:
    """Does ``text`` name the old package as a dotted or slashed path (not in prose)?"""
    import re

    for package in packages:
        pattern = rf"(?<![\w]){re.escape(package)}(?![\w])([./:]\w|$)"
        if re.search(pattern, text.strip()):
            return True
        if text.strip() == package:
            return True
    return False
