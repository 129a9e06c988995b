"""The excerpt's shortcuts give what generating the code of the whole module gives:
positions from the ``ast`` tree plus the one statement around them, code cut from the
source for statements (or statement lines) the transform left as they were, statement
lines inside kept functions left out of the parse (inner stand-ins); where the source
cannot be trusted at a place, the code is generated (the tests corrupt a place)."""

import ast
import copy

import libcst as cst
import pytest

from ringlib_codemods import excerpt, pipeline
from ringlib_codemods.positions import generate, start_positions
from ringlib_codemods.resolve import Analysis

OLD = "from dilated_attention_pytorch.ring import RingDilatedAttentionCorrect"
SOURCE = "\n".join([
    "import os",
    OLD,
    "",
    "",
    "def plain(x):",
    "    return x",
    "",
    "",
    "@decorator",
    "# between",
    "@other(1)",
    "def build(flag):",
    "    # leading comment",
    "    s = 'naïve ✓'; attn = RingDilatedAttentionCorrect(512, 8, [2048], [1])",
    "    if flag:",
    "        x = 1",
    "        other = RingDilatedAttentionCorrect(",
    "            256, 4, [1024], [1])  # trailing",
    "        # block footer",
    "    try:",
    "        y = 2",
    "    except ImportError:",
    "        z = RingDilatedAttentionCorrect",
    "    return attn",
    "    # footer of build",
    "",
    "",
    "class Model(RingDilatedAttentionCorrect):",
    "    pass",
    "",
    "",
    "@RingDilatedAttentionCorrect.register",
    "def registered():",
    "    pass",
    "",
    "x = plain(1)",
    "",
])


def _analysis(source: str, index) -> Analysis:
    part = excerpt.build(source, index)
    assert part is not None
    return Analysis(part.module, index, None, source, excerpt=part)


def _wanted(analysis: Analysis) -> list[cst.CSTNode]:
    wanted = [*analysis.import_line.values()]
    for site in analysis.sites:
        wanted += [site.node, site.statement]
    return wanted + [b.alias for b in analysis.bindings.values()]


def _generated_positions(analysis: Analysis, nodes) -> dict[int, tuple[int, int]]:
    found = start_positions(analysis.module, nodes)
    line = analysis.excerpt.original_line
    return {key: (line(row), column) for key, (row, column) in found.items()}


def test_positions_from_ast_equal_generated_ones(fake_index) -> None:
    source = SOURCE.replace("@RingDilatedAttentionCorrect.register\n", "")  # no decorator site
    analysis = _analysis(source, fake_index)
    assert len(analysis.sites) == 4
    nodes = _wanted(analysis)
    fast = analysis._excerpt_positions(analysis.sites[0].node)
    assert fast is not None, "the shortcut is taken"
    assert fast == {key: value for key, value in _generated_positions(analysis, nodes).items()
                    if key in fast}
    assert {id(n) for n in nodes} <= set(fast)


def test_positions_in_a_decorator_are_generated(fake_index) -> None:
    analysis = _analysis(SOURCE, fake_index)
    assert analysis._excerpt_positions(analysis.sites[0].node) is None  # a site before `def`
    expected = _generated_positions(analysis, _wanted(analysis))
    assert all(analysis.line_of(site.node) == expected[id(site.node)] for site in analysis.sites)


def _shifted(monkeypatch) -> None:
    """``ast`` places every statement one line too low (as a wrong pairing would)."""
    plain = excerpt.Excerpt.statement_node

    def shifted(self, statement):
        node = plain(self, statement)
        if node is None:
            return None
        node = copy.copy(node)
        node.lineno += 1
        return node

    monkeypatch.setattr(excerpt.Excerpt, "statement_node", shifted)


def test_a_wrong_place_is_noticed(fake_index, monkeypatch) -> None:
    source = SOURCE.replace("@RingDilatedAttentionCorrect.register\n", "")
    expected = pipeline.migrate_code(source, fake_index)
    analysis = _analysis(source, fake_index)
    _shifted(monkeypatch)
    assert analysis._excerpt_positions(analysis.sites[0].node) is None
    statement = analysis.module.body[2]  # def plain
    assert analysis.excerpt.code_of(statement) is None
    shifted = pipeline.migrate_code(source, fake_index)
    assert (shifted.code, [i.as_dict() for i in shifted.items]) == \
        (expected.code, [i.as_dict() for i in expected.items])


def test_unchanged_statements_cut_from_the_source(fake_index) -> None:
    part = excerpt.build(SOURCE, fake_index)
    body = part.module.body
    for statement in body[:-1]:
        if part._original(statement) is None:
            assert part.code_of(statement) == generate(statement, part.module, "", part.passes)
    assert part.code_of(body[-1]) is None  # the last one: the module's end decides


def _replace_lines(node: cst.CSTNode, lines: dict[int, cst.CSTNode]) -> cst.CSTNode:
    """``node`` rebuilt around replaced statement lines, every other node kept (as the
    transform does)."""
    if id(node) in lines:
        return lines[id(node)]
    changes = {}
    for name in node.__dataclass_fields__:
        value = getattr(node, name)
        if isinstance(value, (list, tuple)) and any(isinstance(v, cst.CSTNode) for v in value):
            new = [_replace_lines(v, lines) if isinstance(v, cst.CSTNode) else v for v in value]
            if any(a is not b for a, b in zip(new, value)):
                changes[name] = new
        elif isinstance(value, cst.CSTNode):
            new = _replace_lines(value, lines)
            if new is not value:
                changes[name] = new
    return node.with_changes(**changes) if changes else node


def _lines_in(node: cst.CSTNode) -> list[cst.SimpleStatementLine]:
    found = []

    class Lines(cst.CSTVisitor):
        def visit_SimpleStatementLine(self, line: cst.SimpleStatementLine) -> None:
            found.append(line)

    node.visit(Lines())
    return found


def test_changed_lines_generated_in_the_source(fake_index) -> None:
    part = excerpt.build(SOURCE, fake_index)
    build = next(s for s in part.module.body if isinstance(s, cst.FunctionDef) and s.name.value == "build")
    lines = _lines_in(build)
    assert len(lines) == 6
    comment = cst.EmptyLine(comment=cst.Comment("# ringlib-migrate: added"))
    for chosen in ([lines[1]], [lines[0], lines[2]], lines[-2:], lines):  # first, nested, last
        replaced = {id(line): line.with_changes(
            body=[cst.Expr(cst.Name("changed"))], leading_lines=[*line.leading_lines, comment])
            for line in chosen}
        new = _replace_lines(build, replaced)
        code = part.code_with_changed_lines(build, new)
        assert code is not None, "the shortcut is taken"
        assert code == generate(new, part.module, "", part.passes)
        assert code.count("changed") == len(chosen)


def test_other_changes_generate_the_statement(fake_index) -> None:
    part = excerpt.build(SOURCE, fake_index)
    build = next(s for s in part.module.body if isinstance(s, cst.FunctionDef) and s.name.value == "build")
    line = _lines_in(build)[0]
    renamed = _replace_lines(build, {id(line): line.with_changes(body=[cst.Pass()])}) \
        .with_changes(name=cst.Name("renamed"))
    assert part.code_with_changed_lines(build, renamed) is None
    removed = build.with_changes(body=build.body.with_changes(body=build.body.body[1:]))
    assert part.code_with_changed_lines(build, removed) is None


@pytest.mark.parametrize("text", ["\r\n", "\f"])
def test_no_cut_where_libcst_does_not_give_the_source_back(fake_index, text) -> None:
    source = SOURCE.replace("\n", "\r\n") if text == "\r\n" else SOURCE.replace("\ndef plain", "\n\fdef plain")
    part = excerpt.build(source, fake_index)
    assert part is not None and not part.cuttable()
    assert all(part.code_of(statement) is None for statement in part.module.body)
    analysis = Analysis(part.module, fake_index, None, source, excerpt=part)
    assert analysis._excerpt_positions(analysis.sites[0].node) is None


def test_trees_paired_statement_by_statement(fake_index) -> None:
    part = excerpt.build(SOURCE, fake_index)
    build = next(s for s in part.module.body if isinstance(s, cst.FunctionDef) and s.name.value == "build")
    handler = build.body.body[2].handlers[0]
    assert isinstance(part.statement_node(handler), ast.ExceptHandler)
    first = part.statement_node(_lines_in(build)[0])
    assert (first.lineno, first.col_offset) == (14, 4) and isinstance(first, ast.Assign)


def test_excerpt_module_is_the_parse_of_its_own_code(fake_index) -> None:
    part = excerpt.build(SOURCE, fake_index)
    assert part.module.deep_equals(cst.parse_module(part.module.code))


INNER = "\n".join([
    "import functools",
    OLD,
    "",
    "",
    "def run(flag, data):",
    "    total = 0; count = 1  # two statements, one line",
    "    values = [",
    "        1,  # inside",
    "        2,",
    "    ]",
    "    attn = RingDilatedAttentionCorrect(512, 8, [2048], [1])",
    "    for item in data:",
    "        total += item",
    "        # before the last line of the block",
    "        count += 1",
    "    # after the block",
    "    with open(flag) as handle:",
    "        text = handle.read()",
    "",
    "    def inner():",
    "        return total",
    "    result = attn(values)",
    "    return result, count, text",
    "",
    "",
    "def lazy():",
    "    from dilated_attention_pytorch.ring import RingDilatedAttentionCorrect as Local",
    "    name = 'x'",
    "    return Local(64, 4, [128], [1]), name",
    "",
    "",
    "x = functools.partial(print)",
    "",
])


def test_inner_stand_ins_same_as_whole_module(fake_index, monkeypatch) -> None:
    from test_excerpt import _both

    part = excerpt.build(INNER, fake_index)
    assert part is not None and part.passes, "lines inside `run` stand in"
    left_out = {group[0].lineno for group in part.inner.values()}
    assert left_out == {6, 7, 13, 15, 18, 21, 22, 23}  # not line 11, which names the old class
    assert not left_out & set(range(26, 30)), "a function with an import inside keeps every line"
    assert "total = 0; count = 1  # two statements, one line" not in part.module.code
    fast, whole = _both(monkeypatch, INNER, fake_index)
    assert fast == whole and fast[1]


def test_private_use_in_an_inner_stand_in_decides_as_the_whole_module(fake_index, monkeypatch) -> None:
    from test_excerpt import _both

    source = INNER.replace("    result = attn(values)", "    attn.run()\n    handle = attn\n    handle._cache = 1\n    result = 0")
    source = source.replace("    attn = RingDilatedAttentionCorrect(", "    handle = RingDilatedAttentionCorrect(")
    fast, whole = _both(monkeypatch, source, fake_index)
    assert fast == whole
