"""The light name resolution finds exactly what libcst's full ScopeProvider finds."""

from pathlib import Path

import libcst as cst
import pytest

from ringlib_codemods.index import LegacyIndex
from ringlib_codemods.resolve import Analysis

FIXTURES = sorted((Path(__file__).parent / "fixtures").rglob("*.before.py"))


def _summary(analysis: Analysis):
    code = analysis.module.code_for_node
    sites = [(type(s.node).__name__, code(s.node), s.position.value, s.path, s.name,
              code(s.statement), code(s.binding.alias) if s.binding else None,
              type(s.parent).__name__) for s in analysis.sites]
    bindings = sorted((code(b.alias), b.path,
                       tuple(sorted((code(r.node), r.is_annotation) for r in b.references)))
                      for b in analysis.bindings.values())
    return sites, bindings


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_light_matches_full(path: Path) -> None:
    index = LegacyIndex.load()
    data = path.read_bytes()
    module = cst.parse_module(data)
    full = Analysis(module, index, path, data, light=False)
    light = Analysis(module, index, path, data)
    assert _summary(light) == _summary(full)


def test_light_path_taken_and_declined() -> None:
    index = LegacyIndex.load()
    simple = b"from dilated_attention_pytorch.ring import RingDilatedAttention\n" \
             b"m = RingDilatedAttention(8, 2, [4], [1])\n"
    rebound = simple + b"def f(RingDilatedAttention):\n    return RingDilatedAttention\n"
    used_first = b"x = RingDilatedAttention\n" + simple
    assert Analysis(cst.parse_module(simple), index, None, simple).light is not None
    for source in (rebound, used_first):
        analysis = Analysis(cst.parse_module(source), index, None, source)
        assert analysis.light is None  # left to libcst's ScopeProvider
        full = Analysis(cst.parse_module(source), index, None, source, light=False)
        assert [s.position for s in analysis.sites] == [s.position for s in full.sites]


LOCALS = b'''from dilated_attention_pytorch.ring import RingDilatedAttention
cfg = make()
def f():
    cfg = make()
    use(cfg)
    def g():
        return cfg
    class K:
        cfg = make()
        x = cfg
        def m(self):
            return cfg
        y = [cfg for _ in range(2)]
    return lambda: cfg
def h():
    use(cfg)
    other = make()
    for other in []:
        pass
    early(late)
    late = make()
    b = make()
    use(b)
def dup():
    a = 1
def dup():
    a = 2
    use(a)
use(cfg, RingDilatedAttention)
'''


def test_local_bindings_match_scope_provider() -> None:
    """Where the light pass answers "the one binding of this name and its references", libcst's
    ScopeProvider gives the same binding and the same number of references."""
    index = LegacyIndex.load()
    module = cst.parse_module(LOCALS)
    analysis = Analysis(module, index, None, LOCALS)
    assert analysis.light is not None
    scopes = Analysis(module, index, None, LOCALS, light=False).scopes
    names: list[tuple[cst.Name, tuple, bool]] = []

    class Collect(cst.CSTVisitor):
        def __init__(self) -> None:
            self.stack: list[cst.CSTNode] = []

        def on_visit(self, node: cst.CSTNode) -> bool:
            parent = self.stack[-1] if self.stack else None
            if isinstance(node, cst.Name) and not isinstance(parent, (cst.Attribute, cst.FunctionDef,
                                                                      cst.ClassDef, cst.Param)):
                is_target = isinstance(parent, cst.AssignTarget)
                names.append((node, tuple(self.stack), is_target))
            self.stack.append(node)
            return True

        def on_leave(self, original_node: cst.CSTNode) -> None:
            self.stack.pop()

    module.visit(Collect())
    decided = {}
    for node, ancestors, is_target in names:
        answer = analysis.light.local_binding(node.value, ancestors)
        if answer is None:
            continue
        decided[id(node)] = answer
        scope = scopes[node]
        if is_target:
            (assignment,) = [a for a in scope.assignments[node.value] if a.node is node]
            assert len(assignment.references) == answer[1], node.value
        else:
            (access,) = [a for a in scope.accesses[node.value] if a.node is node]
            (referent,) = access.referents
            assert len(referent.scope.assignments[node.value]) == 1
            assert decided.get(id(referent.node)) == answer, node.value
    keys = {answer[0] for answer in decided.values()}
    assert {(), ("f",), ("f", "K"), ("h",)} <= keys  # module, function, class and a second function
    assert not any(key and key[0] == "dup" for key in keys)  # two definitions share the key: declined
    for node, ancestors, _ in names:
        if node.value in ("other", "late"):  # bound twice; used before its assignment
            assert analysis.light.local_binding(node.value, ancestors) is None


def test_fact_walk_reaches_every_node_ast_walk_does() -> None:
    import ast

    from ringlib_codemods import light

    tree = ast.parse("@d(x)\nasync def f(a: 'T' = 1, *b, c=[i for i in y if i], **k) -> int:\n"
                     "    global g\n    match a:\n        case {'k': v, **rest} if v: pass\n"
                     "    try:\n        import m as n\n    except* E as e:\n        del z[0]\n"
                     "    return lambda q: (yield from w), f'{a!r:>{b}}'\n")
    expected = [n for n in ast.walk(tree) if not isinstance(n, ast.expr_context)]
    found = light._nodes(tree)
    assert len(found) == len(expected) and {id(n) for n in found} == {id(n) for n in expected}
