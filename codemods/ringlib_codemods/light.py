"""Light name resolution: the uses of names bound by imports of the old package.

libcst's ``ScopeProvider`` builds every scope, assignment and access of a module (about four
times the cost of parsing it); the codemod needs the uses of a handful of names. When those
names are bound only by imports of the old package, at module level or inside functions (a
lazy import: the innermost function around a use that imports the name binds it, as Python
looks names up), a use is any load of the name, resolved through attribute chains the way
``ScopeProvider`` does, and this pass finds them during the site finder's walk. Everything
the light pass cannot decide (the name re-bound by anything but an old import, ``global`` /
``nonlocal``, an old import in a class body, two definitions sharing a name, a string
annotation naming it, a use before its import, a use of a name two old imports bind to
different paths) is left to the full ``ScopeProvider``: ``light_resolution`` returns None or
marks the pass ``failed``.

Binding facts come from the standard library's ``ast`` (store contexts, parameters,
handlers, match captures are explicit there), which costs a few percent of a libcst parse.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence

import libcst as cst
from libcst.helpers import get_full_name_for_node

from ringlib_codemods.binding import Binding
from ringlib_codemods.index import LegacyIndex


class ModuleFacts(Protocol):
    """What the light pass asks of the module under analysis (``resolve.Analysis`` gives it):
    the tree, the registry index, and how an import names an old path."""

    module: cst.Module
    index: LegacyIndex

    def relative_module(self, dots: int, module: str) -> str | None: ...

    def alias_path(self, statement: cst.Import | cst.ImportFrom, alias: cst.ImportAlias,
                   bound: str | None = None) -> str | None: ...

_BUILTINS = frozenset(dir(builtins))
_TYPE_HINT_CALLS = ("cast", "TypeVar", "NewType")


class ModuleScope:
    """The module's scope as the rules ask about it: ``name in scope`` (builtins included,
    as for libcst's global scope)."""

    def __init__(self, bound: set[str]) -> None:
        self.bound = bound

    def __contains__(self, name: str) -> bool:
        return name in self.bound or name in _BUILTINS


@dataclass(eq=False)
class LightAccess:
    """A use of an old binding: the node libcst would name (a Name, or an Attribute for a
    dotted ``import a.b``), whether it sits in an annotation."""

    node: cst.CSTNode
    is_annotation: bool
    referents: tuple = ()


class LightResolution:
    """Bindings of old names at module level and the resolver the site finder calls."""

    def __init__(self, bindings: dict[int, "Binding"], scope: ModuleScope,
                 module_imports: list[cst.Import], binders: dict[str, "Binding"],
                 facts: "_Facts", functions: "FunctionImports | None" = None) -> None:
        self.bindings = bindings
        self.scope = scope
        self.module_imports = module_imports
        self.binders = binders  # bound dotted name -> the binding its uses belong to
        self.functions = functions  # old imports inside functions
        self.local_first = functions.first_names if functions is not None else frozenset()
        self.module_first = frozenset(name.split(".")[0] for name in binders)
        self.first_names = self.module_first | self.local_first
        self.facts = facts
        self._locals: LocalBindings | None = functions.locals if functions is not None else None
        self.seen: set[int] = set()  # id(import statement) visited so far
        self.conflicts: frozenset[str] = frozenset()  # module-level names bound to two old paths
        self.failed = False

    def access(self, node: cst.Name, stack: Sequence[cst.CSTNode]):
        """``(binding, access, depth)`` for a load of an old name (``depth``: attribute
        levels between ``node`` and the access node), else None."""
        parent = stack[-1] if stack else None
        if isinstance(parent, cst.Attribute) and parent.attr is node:
            return None
        if isinstance(parent, cst.Arg) and parent.keyword is node:
            return None
        if isinstance(parent, cst.MatchKeywordElement) and parent.key is node:
            return None
        chain = [node]
        depth = len(stack)
        while depth and isinstance(stack[depth - 1], cst.Attribute) \
                and stack[depth - 1].value is chain[-1]:
            chain.append(stack[depth - 1])
            depth -= 1
        binders, key = self.binders, ()
        if node.value in self.local_first:
            found = self._function_binders(stack, node.value)
            if found is not None:
                key, binders = found
            elif node.value not in self.module_first:
                return None  # not bound where it is used: not an old reference
        top = _top_attribute(stack)
        name, chosen, levels = node.value, node, 0
        if top is not None and top in chain:
            names = _dotted(chain[: chain.index(top) + 1])
            for level in range(len(names) - 1, -1, -1):
                if names[level] in binders:
                    name, chosen, levels = names[level], chain[level], level
                    break
        binding = binders.get(name)
        if binding is None:
            return None
        if not key and name in self.conflicts:
            self.failed = True  # which of two old paths: libcst decides
        if id(binding.statement) not in self.seen and (not key or key == _function_key(stack)):
            self.failed = True  # used before it is bound: libcst filters by position
        annotation = any(type(n) is cst.Annotation for n in stack)
        access = LightAccess(chosen, annotation)
        binding.light_references.append(access)
        return binding, access, levels

    def _function_binders(self, stack: Sequence[cst.CSTNode], first: str) -> tuple[tuple, dict] | None:
        """The innermost function around the use (Python's lookup) whose old import binds
        its name ``first``: ``(scope key, dotted name -> binding)``."""
        assert self.functions is not None
        key = _function_key(stack)
        while key:
            names = self.functions.binders.get(key)
            if names is not None and first in self.functions.first_by_key[key]:
                return key, names
            key = key[:-1]
        return None

    def local_binding(self, name: str, ancestors: Sequence[cst.CSTNode]) -> tuple[tuple, int] | None:
        """See ``LocalBindings.answer`` (built on first use)."""
        if self._locals is None:
            self._locals = LocalBindings(self.facts.tree, self.facts)
        return self._locals.answer(name, ancestors)

    def qualified_names(self, node: cst.CSTNode) -> set[str] | None:
        """What libcst's ``get_qualified_names_for`` gives, where it is plain to see: a
        builtin never re-bound, or a name bound once, by a module-level import."""
        dotted = get_full_name_for_node(node)
        if dotted is None:
            return None
        first, _, rest = dotted.partition(".")
        count = self.facts.bind_count.get(first, 0)
        if count == 0:
            return {f"builtins.{dotted}"} if first in _BUILTINS and not rest else None
        origin = self.facts.imported.get(first)
        if count != 1 or origin is None:
            return None
        return {f"{origin}.{rest}" if rest else origin}


def _function_key(stack: Sequence[cst.CSTNode]) -> tuple:
    """The names of the functions and classes whose bodies hold the last node of ``stack``
    (a decorator, default, annotation or base belongs to the scope around its definition)."""
    key: list[str] = []
    for i, node in enumerate(stack):
        if type(node) is cst.FunctionDef or type(node) is cst.ClassDef:
            if i + 1 < len(stack) and stack[i + 1] is node.body:
                key.append(node.name.value)
            else:
                break
    return tuple(key)


def _top_attribute(stack: Sequence[cst.CSTNode]) -> cst.Attribute | None:
    """The outermost attribute since the nearest enclosing call (libcst's "top-level
    attribute" of an access)."""
    top = None
    for n in reversed(stack):
        if type(n) is cst.Call:
            break
        if type(n) is cst.Attribute:
            top = n
    return top


def _dotted(chain: list[cst.CSTNode]) -> list[str]:
    names = [chain[0].value]  # type: ignore[attr-defined]
    for attr in chain[1:]:
        names.append(f"{names[-1]}.{attr.attr.value}")  # type: ignore[attr-defined]
    return names


def _assignment_names(alias: cst.ImportAlias, statement) -> list[str]:
    """The names libcst records for one import alias, longest first."""
    if alias.asname is not None:
        return [get_full_name_for_node(alias.asname.name) or ""]
    real = get_full_name_for_node(alias.name) or ""
    if isinstance(statement, cst.ImportFrom):
        return [real]
    parts = real.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def _module_statements(body) -> Iterator[cst.CSTNode]:
    """Small statements at module level, inside compound statements too (not in defs or
    classes), in document order."""
    for node in body:
        if isinstance(node, cst.SimpleStatementLine):
            yield from node.body
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            continue
        elif isinstance(node, cst.BaseCompoundStatement):
            for suite in _parts(node):
                if isinstance(suite, cst.SimpleStatementSuite):
                    yield from suite.body
                else:
                    yield from _module_statements(suite.body)


def _parts(node: cst.BaseCompoundStatement) -> Iterator:
    """The suites of a compound statement, in document order."""
    if isinstance(node, cst.Match):
        for case in node.cases:
            yield case.body
        return
    yield node.body
    for handler in getattr(node, "handlers", ()):
        yield handler.body
    orelse = getattr(node, "orelse", None)
    while orelse is not None:
        yield orelse.body
        orelse = getattr(orelse, "orelse", None) if isinstance(orelse, cst.If) else None
    final = getattr(node, "finalbody", None)
    if final is not None:
        yield final.body


def _nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` but the ``ctx`` markers of names (in no particular order):
    what ``ast.walk`` gives, without a generator per node."""
    found = [tree]
    node_type = ast.AST
    i = 0
    while i < len(found):
        node = found[i]
        i += 1
        for name in node._fields:
            value = getattr(node, name, None)
            if type(value) is list:
                found.extend(item for item in value if isinstance(item, node_type))
            elif isinstance(value, node_type) and name != "ctx":
                found.append(value)
    return found


class _Facts:
    """Binding facts of the whole module, from ``ast``."""

    def __init__(self, tree: ast.Module, normalize, relative=None) -> None:
        self.normalize = normalize
        self.relative = relative  # (dots, module) -> absolute module, None where unknown
        self.tree = tree
        self.old_imports = 0  # imports that may bind an old name, anywhere
        self.module_old_imports = 0  # those at module level
        self.bind_count: Counter[str] = Counter()
        self.import_binds: Counter[str] = Counter()  # by imports, any scope
        self.imported: dict[str, str] = {}  # name -> dotted origin, module-level imports
        self.module_bound: set[str] = set()
        self.global_names: set[str] = set()
        self.annotation_strings: list[str] = []
        self._collect(tree)
        for statement in tree.body:
            self._module_level(statement)

    def _may_be_old(self, node: ast.Import | ast.ImportFrom) -> bool:
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = self.relative(node.level, module) if self.relative else None
                if module is None:
                    return True  # relative to an unknown location
            return self.normalize(module) is not None or any(
                self.normalize(f"{module}.{alias.name}") is not None for alias in node.names)
        return any(self.normalize(alias.name) is not None for alias in node.names)

    def _bind(self, name: str | None) -> None:
        if name:
            self.bind_count[name] += 1

    def _collect(self, tree: ast.AST) -> None:
        for node in _nodes(tree):
            kind = type(node)
            if kind is ast.Name:
                if type(node.ctx) is not ast.Load:
                    self._bind(node.id)
            elif kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
                self._bind(node.name)
                if kind is not ast.ClassDef:
                    self._hint(node.returns)
            elif kind is ast.arg:
                self._bind(node.arg)
                self._hint(node.annotation)
            elif kind is ast.AnnAssign:
                self._hint(node.annotation)
            elif kind is ast.ExceptHandler:
                self._bind(node.name)
            elif kind in (ast.MatchAs, ast.MatchStar):
                self._bind(node.name)
            elif kind is ast.MatchMapping:
                self._bind(node.rest)
            elif kind in (ast.Global, ast.Nonlocal):
                self.global_names.update(node.names)
            elif kind in (ast.Import, ast.ImportFrom):
                self.old_imports += self._may_be_old(node)
                for alias in node.names:
                    if alias.name == "*":
                        continue
                    bound = alias.asname or alias.name.split(".")[0]
                    self._bind(bound)
                    self.import_binds[bound] += 1
            elif kind is ast.Subscript:
                self._hint(node)
            elif kind is ast.Call:
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in _TYPE_HINT_CALLS:
                    for arg in node.args:
                        self._hint(arg)

    def _hint(self, node: ast.AST | None) -> None:
        if node is None:
            return
        for sub in ast.walk(node):
            if type(sub) is ast.Constant and isinstance(sub.value, str):
                self.annotation_strings.append(sub.value)

    def _module_level(self, node: ast.AST) -> None:
        kind = type(node)
        if kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            self.module_bound.add(node.name)
            return
        if kind in (ast.Import, ast.ImportFrom):
            self.module_old_imports += self._may_be_old(node)
            for alias in node.names:
                if alias.name == "*":
                    continue
                if alias.asname:
                    self.module_bound.add(alias.asname)
                else:
                    parts = alias.name.split(".")
                    self.module_bound.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
                bound = alias.asname or alias.name.split(".")[0]
                if kind is ast.ImportFrom and not node.level and node.module:
                    self.imported[bound] = f"{node.module}.{alias.name}"
                elif kind is ast.Import and (alias.asname or "." not in alias.name):
                    self.imported[bound] = alias.name
            return
        if kind is ast.Lambda or kind in (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp):
            for sub in ast.walk(node):
                if type(sub) is ast.NamedExpr and isinstance(sub.target, ast.Name):
                    self.module_bound.add(sub.target.id)
            return
        if kind is ast.Name and type(node.ctx) is not ast.Load:
            self.module_bound.add(node.id)
        elif kind is ast.ExceptHandler and node.name:
            self.module_bound.add(node.name)
        elif kind in (ast.MatchAs, ast.MatchStar) and node.name:
            self.module_bound.add(node.name)
        elif kind is ast.MatchMapping and node.rest:
            self.module_bound.add(node.rest)
        for child in ast.iter_child_nodes(node):
            self._module_level(child)


def light_resolution(analysis: ModuleFacts, source: str | bytes | None,
                     tree: ast.Module | None = None) -> LightResolution | None:
    """The light pass for ``analysis``'s module, or None where only libcst's full scope
    analysis gives the right answer. ``tree``: ``source`` already parsed by ``ast``."""
    module, index = analysis.module, analysis.index
    scope = ModuleScope(set())
    bindings: dict[int, Binding] = {}
    names_order: dict[str, int] = {}
    module_imports: list[cst.Import] = []
    found: list[tuple[int, int, Binding]] = []
    for position, statement in enumerate(_module_statements(module.body)):
        if not isinstance(statement, (cst.Import, cst.ImportFrom)):
            continue
        if isinstance(statement, cst.Import):
            module_imports.append(statement)
        if isinstance(statement.names, cst.ImportStar):
            continue
        for alias in statement.names:
            names = _assignment_names(alias, statement)
            for name in names:
                names_order.setdefault(name, len(names_order))
            path = analysis.alias_path(statement, alias)
            if path is None:
                continue
            binding = Binding(names, path, alias, statement, scope, light_references=[])
            found.append((min(names_order[n] for n in names), position, binding))
    if tree is None:
        try:
            tree = ast.parse(source if source is not None else module.bytes)
        except (SyntaxError, ValueError):
            return None
    facts = _Facts(tree, index.normalize, analysis.relative_module)
    if not found and not facts.old_imports:
        scope.bound = facts.module_bound | facts.global_names
        return LightResolution({}, scope, module_imports, {}, facts)  # nothing to resolve
    found.sort(key=lambda item: (item[0], item[1]))
    binders: dict[str, Binding] = {}
    conflicts: set[str] = set()
    for _, _, binding in found:
        bindings[id(binding.alias)] = binding
        for name in binding.assignments:
            other = binders.get(name)
            if other is not None and other.path != binding.path:
                # one name, two old paths (``import a.b`` and ``import a.c`` both bind
                # ``a``): a use of ``a`` itself is left to libcst (``a.b.X`` is plain)
                conflicts.add(name)
                continue
            binders[name] = binding
    first_names = frozenset(name.split(".")[0] for name in binders)
    local = None
    if facts.old_imports != facts.module_old_imports:  # old imports inside functions
        local = _function_bindings(analysis, facts, first_names, scope)
        if local is None:
            return None
        for binding in local.bindings:
            bindings[id(binding.alias)] = binding
        if not found and not local.bindings:
            return None
    local_first = local.first_names if local is not None else frozenset()
    for name in first_names | local_first:
        if facts.bind_count[name] != facts.import_binds[name] or name in facts.global_names:
            return None  # re-bound by something other than an import
        old = sum(1 for _, _, b in found if b.assignments[-1].split(".")[0] == name)
        old += sum(1 for b in (local.bindings if local else ()) if b.assignments[-1].split(".")[0] == name)
        if facts.import_binds[name] != old:
            return None  # also bound by an import that is not an old one
    if facts.annotation_strings and (first_names | local_first):
        pattern = re.compile(r"(?<![\w.])(?:%s)(?!\w)" % "|".join(map(re.escape, first_names | local_first)))
        if any(pattern.search(text) for text in facts.annotation_strings):
            return None  # a string annotation libcst would parse for uses
    scope.bound = facts.module_bound | facts.global_names
    resolution = LightResolution(bindings, scope, module_imports, binders, facts, local)
    resolution.conflicts = frozenset(conflicts)
    return resolution


class FunctionScope:
    """A function's scope as the rules ask about it (``name in scope``, as libcst's
    ``LocalScope``: its own names, then the enclosing functions', the module's, builtins)."""

    def __init__(self, key: tuple, locals_: "LocalBindings", module_scope: ModuleScope) -> None:
        self.key = key
        self.locals = locals_
        self.module_scope = module_scope

    def __contains__(self, name: str) -> bool:
        for i, key in enumerate(self.locals._chain(self.key)):
            if key == ():
                break
            if (i == 0 or self.locals.kind[key] != "class") and self.locals.binds[key][name]:
                return True
        return name in self.module_scope


@dataclass
class FunctionImports:
    """Old imports inside functions: their bindings, by scope key and bound dotted name."""

    bindings: list[Binding]
    binders: dict[tuple, dict[str, Binding]]
    first_names: frozenset[str]
    locals: "LocalBindings"
    first_by_key: dict[tuple, frozenset[str]]  # scope key -> first names its imports bind


def _function_bindings(analysis: ModuleFacts, facts: "_Facts", module_names: frozenset[str],
                       module_scope: ModuleScope) -> FunctionImports | None:
    """The bindings of old imports inside functions (lazy imports), where each of their
    names is bound once per function, by that import only, and never at module level; None
    for anything else (class bodies, two definitions sharing a name, ...)."""
    locals_ = LocalBindings(facts.tree, facts)
    by_key: dict[tuple, list] = {}
    for key, node in locals_.imports:
        if key and facts._may_be_old(node):
            if locals_.kind.get(key) != "function" or any(k in locals_.ambiguous for k in locals_._chain(key)):
                return None
            by_key.setdefault(key, [])
    bindings: list[Binding] = []
    binders: dict[tuple, dict[str, Binding]] = {}
    for key in by_key:
        function = _find_function(analysis.module.body, key)
        if function is None:
            return None
        expected = [n for k, n in locals_.imports if k == key]
        statements = list(_function_imports(function.body))
        if len(statements) != len(expected):
            return None
        scope = FunctionScope(key, locals_, module_scope)
        names: dict[str, Binding] = {}
        for statement in statements:
            if isinstance(statement.names, cst.ImportStar):
                return None
            for alias in statement.names:
                path = analysis.alias_path(statement, alias)
                if path is None:
                    continue
                dotted = _assignment_names(alias, statement)
                if dotted[-1] in names:
                    return None  # bound twice in one function
                binding = Binding(dotted, path, alias, statement, scope, light_references=[])
                bindings.append(binding)
                for name in dotted:
                    names[name] = binding
        binders[key] = names
    first_by_key = {k: frozenset(name.split(".")[0] for name in names) for k, names in binders.items()}
    first = frozenset().union(*first_by_key.values()) if first_by_key else frozenset()
    if any(locals_.binds[k][name] > 1 for k, names in first_by_key.items() for name in names):
        return None
    return FunctionImports(bindings, binders, first, locals_, first_by_key)


def _find_function(body, key: tuple) -> cst.FunctionDef | None:
    """The definition ``key`` names (the function and class names around it)."""
    found = None
    for name in key:
        found = next((d for d in _definitions(body) if d.name.value == name), None)
        if found is None:
            return None
        body = found.body.body if isinstance(found.body, cst.IndentedBlock) else []
    return found if isinstance(found, cst.FunctionDef) else None


def _definitions(body) -> Iterator[cst.CSTNode]:
    """Functions and classes defined directly in ``body`` (also inside if/try/with/...)."""
    for node in body:
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            yield node
        elif isinstance(node, cst.BaseCompoundStatement):
            for suite in _parts(node):
                if not isinstance(suite, cst.SimpleStatementSuite):
                    yield from _definitions(suite.body)


def _function_imports(block) -> Iterator:
    """Import statements of a function body, not in nested functions or classes."""
    if isinstance(block, cst.SimpleStatementSuite):
        yield from (s for s in block.body if isinstance(s, (cst.Import, cst.ImportFrom)))
        return
    for node in block.body:
        if isinstance(node, cst.SimpleStatementLine):
            yield from (s for s in node.body if isinstance(s, (cst.Import, cst.ImportFrom)))
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            continue
        elif isinstance(node, cst.BaseCompoundStatement):
            for suite in _parts(node):
                yield from _function_imports(suite)


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class LocalBindings:
    """"The one binding of this name in its scope and all its references" for local
    variables (``cfg = SparsePatternConfig(...)`` then ``Old(sparse_config=cfg)``), from ``ast``.

    Scopes are keyed by the names of the functions and classes around them, which is how a
    libcst node's ancestors name them too. ``answer`` returns None (undecided: ask libcst's
    ``ScopeProvider``) for anything unusual: a key two definitions share, a lambda or
    comprehension around the node, ``global``/``nonlocal`` or a walrus in a comprehension
    for the name, a string annotation naming it, more than one binding, a binding that is
    not a plain assignment, a use in the same scope before the assignment ends."""

    def __init__(self, tree: ast.Module, facts: "_Facts") -> None:
        self.facts = facts
        self.kind: dict[tuple, str] = {(): "module"}
        self.parent: dict[tuple, tuple | None] = {(): None}
        self.ambiguous: set[tuple] = set()
        self.binds: dict[tuple, Counter[str]] = {(): Counter()}
        self.stores: dict[tuple[tuple, str], tuple[int, int]] = {}  # -> end of its statement
        self.loads: dict[str, list[tuple[tuple, tuple[int, int]]]] = {}
        self.unsure: set[str] = set()
        self.imports: list[tuple[tuple, ast.AST]] = []  # (scope key, import), document order
        self._end = (0, 0)
        self._walk_all(tree.body, ())

    def _enter(self, key: tuple, kind: str, parent: tuple) -> tuple:
        if key in self.kind:
            self.ambiguous.add(key)
        self.kind[key], self.parent[key] = kind, parent
        self.binds.setdefault(key, Counter())
        return key

    def _walk_all(self, nodes, scope: tuple) -> None:
        for node in nodes:
            self._walk(node, scope)

    def _walk(self, node: ast.AST, scope: tuple) -> None:
        kind = type(node)
        if isinstance(node, ast.stmt):
            self._end = (node.end_lineno or 0, node.end_col_offset or 0)
        if kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            self.binds[scope][node.name] += 1
            outer = [*node.decorator_list]
            if kind is ast.ClassDef:
                outer += [*node.bases, *node.keywords]
            else:
                outer += [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
                outer += [node.returns] if node.returns is not None else []
            self._walk_all(outer, scope)
            inner = self._enter((*scope, node.name), "class" if kind is ast.ClassDef else "function", scope)
            if kind is not ast.ClassDef:
                self._walk(node.args, inner)
            self._walk_all(node.body, inner)
            return
        if kind is ast.Lambda or kind in _COMPREHENSIONS:
            inner = self._enter((*scope, f"<{id(node)}>"), "function", scope)
            if kind is ast.Lambda:
                self._walk_all([*node.args.defaults, *(d for d in node.args.kw_defaults if d)], scope)
                self._walk(node.args, inner)
                self._walk(node.body, inner)
                return
            self._walk(node.generators[0].iter, scope)
            for sub in ast.walk(node):
                if type(sub) is ast.NamedExpr and isinstance(sub.target, ast.Name):
                    self.unsure.add(sub.target.id)
            rest = [node.generators[0].target, *node.generators[0].ifs, *node.generators[1:]]
            rest += [node.key, node.value] if kind is ast.DictComp else [node.elt]
            self._walk_all(rest, inner)
            return
        if kind is ast.Name:
            if type(node.ctx) is ast.Load:
                self.loads.setdefault(node.id, []).append((scope, (node.lineno, node.col_offset)))
            else:
                self.binds[scope][node.id] += 1
                if type(node.ctx) is ast.Store:
                    self.stores[(scope, node.id)] = self._end
            return
        if kind is ast.arg:
            self.binds[scope][node.arg] += 1
        elif kind in (ast.Import, ast.ImportFrom):
            self.imports.append((scope, node))
            for alias in node.names:
                self.binds[scope][alias.asname or alias.name.split(".")[0]] += 1
        elif kind is ast.ExceptHandler or kind is ast.MatchAs or kind is ast.MatchStar:
            if node.name:
                self.binds[scope][node.name] += 1
        elif kind is ast.MatchMapping and node.rest:
            self.binds[scope][node.rest] += 1
        for child in ast.iter_child_nodes(node):
            self._walk(child, scope)

    def _chain(self, key: tuple) -> Iterator[tuple]:
        while key is not None:
            yield key
            key = self.parent.get(key)

    def _resolve(self, name: str, key: tuple) -> tuple | None:
        for i, scope in enumerate(self._chain(key)):
            if (i == 0 or self.kind[scope] != "class") and self.binds[scope][name]:
                return scope
        return None

    def answer(self, name: str, ancestors: Sequence[cst.CSTNode]) -> tuple[tuple, int] | None:
        """``(scope key, number of references)`` of the one binding ``name`` (a use, or the
        target of that assignment) belongs to, seen from a node with these ancestors."""
        key = _scope_key(ancestors)
        if key is None or key not in self.kind or name in self.unsure \
                or name in self.facts.global_names or _named_in(name, self.facts.annotation_strings):
            return None
        if any(k in self.ambiguous for k in self._chain(key)):
            return None
        scope = self._resolve(name, key)
        if scope is None or self.binds[scope][name] != 1 or (scope, name) not in self.stores:
            return None
        end = self.stores[(scope, name)]
        references = 0
        for where, position in self.loads.get(name, ()):
            if any(k in self.ambiguous for k in self._chain(where)):
                return None
            if self._resolve(name, where) != scope:
                continue
            if where == scope and position < end:
                return None
            references += 1
        return scope, references


def _named_in(name: str, texts: list[str]) -> bool:
    if not texts:
        return False
    pattern = re.compile(r"(?<![\w.])%s(?!\w)" % re.escape(name))
    return any(pattern.search(text) for text in texts)


def _scope_key(ancestors: Sequence[cst.CSTNode]) -> tuple | None:
    """The names of the functions and classes whose bodies hold the node; None where a
    lambda or comprehension is around it, or it sits in a decorator, default or base."""
    key: list[str] = []
    for i, node in enumerate(ancestors):
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            if i + 1 >= len(ancestors) or ancestors[i + 1] is not node.body:
                return None
            key.append(node.name.value)
        elif isinstance(node, (cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)):
            return None
    return tuple(key)
