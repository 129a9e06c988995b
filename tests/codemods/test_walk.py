"""``walk.visit`` makes the same calls as libcst's own traversal, in the same order."""

from __future__ import annotations

import textwrap

import libcst as cst

from ringlib_codemods import walk

SOURCE = textwrap.dedent('''\
    # header comment
    import a.b as c
    from x import (y,  # why
                   z)

    @decorator(arg=1)
    async def f(p: "T" = 1, *args, k: int, **kw) -> list[int]:
        """Doc."""
        print(f"{p}", f"{p!r:>{k}}")  # the first f-string has no format spec, the second one has
        try:
            q = [i for i in range(3) if i]  # trailing
        except (ImportError, ValueError) as error:
            raise
        else:
            pass
        finally:
            del q
        with open("f") as h, g() as (m, n):
            while not h: break
        match p:
            case {"k": [1, *rest]} if rest:
                return lambda v=1: f"{v!r:>{p}}"
        return {**kw, "s": b"x" b"y"}


    class C(Base, metaclass=M):
        x: int = (1 +
                  2)  # comment
        for i in a[1:2, ::3]:
            x @= i if i else -i
''')


class Recorder(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, str, str]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.events.append(("visit", type(node).__name__, ""))
        return not isinstance(node, cst.Lambda)  # a pruned subtree is left out alike

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.events.append(("leave", type(original_node).__name__, ""))

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        self.events.append(("enter", type(node).__name__, attribute))

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        self.events.append(("exit", type(original_node).__name__, attribute))


class FieldHooks(cst.CSTVisitor):
    """Only the ``visit_<Node>_<field>`` hooks a visitor defines (as libcst dispatches them)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    def visit_Try_body(self, node: cst.Try) -> None:
        self.events.append("try body")

    def leave_Try_body(self, node: cst.Try) -> None:
        self.events.append("try body done")

    def visit_Name(self, node: cst.Name) -> None:
        self.events.append(node.value)


def test_same_calls_in_the_same_order_as_libcst() -> None:
    module = cst.parse_module(SOURCE)
    theirs, ours = Recorder(), Recorder()
    module.visit(theirs)
    walk.visit(module, ours)
    node_events = [e for e in theirs.events if e[0] in ("visit", "leave")]
    assert [e for e in ours.events if e[0] in ("visit", "leave")] == node_events
    assert len(node_events) > 300
    hooks_theirs, hooks_ours = FieldHooks(), FieldHooks()
    module.visit(hooks_theirs)
    walk.visit(module, hooks_ours)
    assert hooks_ours.events == hooks_theirs.events
    assert "try body" in hooks_ours.events and "rest" in hooks_ours.events


def test_skipped_types_are_not_entered() -> None:
    module = cst.parse_module(SOURCE)
    theirs, ours = Recorder(), Recorder()
    module.visit(theirs)
    walk.visit(module, ours, skip=walk.BLANKS)
    blanks = {t.__name__ for t in walk.BLANKS}
    expected = [e for e in theirs.events if e[0] in ("visit", "leave") and e[1] not in blanks]
    assert [e for e in ours.events if e[0] in ("visit", "leave")] == expected
    assert len(expected) < len([e for e in theirs.events if e[0] in ("visit", "leave")])


def test_descendants_are_every_node_below() -> None:
    module = cst.parse_module(SOURCE)
    seen: list[cst.CSTNode] = []

    class All(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            seen.append(node)
            return True

    module.visit(All())
    assert {id(n) for n in walk.descendants(module)} == {id(n) for n in seen}


def test_site_finder_sees_a_name_in_a_later_format_spec() -> None:
    """libcst enters an f-string's format spec only where one is set: a name in the format
    spec of a later f-string is still found when the first f-string has none."""
    from ringlib_codemods.index import LegacyIndex
    from ringlib_codemods.resolve import Analysis

    source = ("from dilated_attention_pytorch import DilatedAttention\n"
              "print(f\"{1}\")\n"
              "print(f\"{1:{DilatedAttention}}\")\n")
    analysis = Analysis(cst.parse_module(source), LegacyIndex.load())
    assert [analysis.line_of(s.node)[0] for s in analysis.sites] == [3]


def test_pipeline_visits_only_the_given_ways_and_whole_subtrees() -> None:
    """The transform enters the nodes on ``paths`` and everything below a ``whole`` node;
    a statement reached by neither is passed over as it is."""
    from ringlib_codemods.pipeline import Pipeline, _holders

    class Rename(cst.CSTTransformer):
        def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
            return updated_node.with_changes(value=updated_node.value.upper())

    module = cst.parse_module("def f():\n    a = b\n    c = d\ne = g\n")
    body = module.body[0].body.body
    target = body[1]
    paths = _holders({id(target)}, module)
    new = module.visit(Pipeline([Rename()], paths, {id(target)}))
    assert new.code == "def f():\n    a = b\n    C = D\ne = g\n"
    assert new.body[1] is module.body[1] and new.body[0].body.body[0] is body[0]
