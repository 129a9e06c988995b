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
