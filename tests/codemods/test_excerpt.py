"""The excerpt path (only the statements that may refer to an old name go through libcst)
gives byte for byte the output, the report items and the exit codes of migrating the whole
module with libcst's full ScopeProvider resolution; and it is taken where it should be."""

import json
import shutil
import sys
from pathlib import Path

import pytest

from fake_registry import ENTRIES
from test_fixtures import CASES, _options

from ringlib_codemods import excerpt, pipeline, resolve
from ringlib_codemods.index import LegacyIndex
from ringlib_codemods.runner import Options, process_file, run

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


def _result(result):
    return result.code, result.changed, [i.as_dict() for i in result.items], result.error


def _both(monkeypatch, source, index, **options):
    """(excerpt path, whole module with ScopeProvider only) for one source."""
    fast = pipeline.migrate_code(source, index, **options)
    with monkeypatch.context() as m:
        m.setattr(pipeline, "EXCERPTS", False)
        m.setattr(resolve, "light_resolution", lambda *args, **kwargs: None)
        whole = pipeline.migrate_code(source, index, **options)
    return _result(fast), _result(whole)


def _excerpt_taken(source, index, path=None) -> bool:
    part = excerpt.build(source, index)
    if part is None:
        return False
    try:
        pipeline._migrate(part.module, source, index, "preserve", path, "<t>", part)
    except excerpt.WholeModule:
        return False
    return True


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_same_as_whole_module(case: Path, fake_index, monkeypatch) -> None:
    source = case.read_text()
    fast, whole = _both(monkeypatch, source, fake_index, **_options(source, case))
    assert fast == whole


def test_fixtures_for_the_hard_cases_take_the_excerpt(fake_index) -> None:
    taken = {p.name: _excerpt_taken(p.read_text(), fake_index, Path("/fixture-root/pkg/m.py"))
             for p in CASES if p.parent.name == "excerpt"}
    # a parameter shares the old class's name there: only ScopeProvider decides
    assert taken.pop("nested_and_lazy.before.py") is False
    assert taken and all(taken.values()), taken


OLD = "from dilated_attention_pytorch.ring import RingDilatedAttentionCorrect"
USE = "attn = RingDilatedAttentionCorrect(512, 8, [2048], [1])"
PLAIN = "def plain(x):\n    if x:\n        return 1\n    return 2\n"


def _lines(*lines: str, newline: str = "\n") -> bytes:
    return newline.join(lines).encode("utf-8")


BYTE_CASES = {  # name -> (source, whether the excerpt is taken)
    "crlf": (_lines("import os", "", PLAIN.replace("\n", "\r\n"), OLD, USE, "", newline="\r\n"), True),
    "cr only": (_lines("import os", "", PLAIN.replace("\n", "\r").rstrip("\r"), OLD, USE, "", newline="\r"),
                True),
    "form feed": (_lines("import os", "\f", "\fdef f():\n    return 1", "x = 0", "\f", OLD, USE, PLAIN, ""),
                  True),
    "tabs": (_lines("import os", "def f(x):\n\tif x:\n\t\treturn 1\n\treturn 2", OLD, USE, ""), True),
    "no final newline": (_lines("import os", PLAIN, OLD, "x = 1", USE), True),
    "unicode": (_lines("# é ✓", "import os", "s = 'naïve – ✓'", PLAIN, OLD, USE, ""), True),
    "line separators in a string": (_lines("import os", "s = 'a\u2028b\x0cc\x1cd\x85e'", PLAIN, OLD, USE, ""),
                                    True),
    "bom": (b"\xef\xbb\xbf" + _lines("import os", PLAIN, OLD, USE, ""), False),
    "coding cookie": (_lines("# -*- coding: latin-1 -*-", "import os", "s = 'caf\xe9'", PLAIN, OLD, USE,
                             "").replace("caf\xc3\xa9".encode(), b"caf\xe9"), False),
    "backslash continuation": (_lines("import os", "x = 1; \\", "y = 2", PLAIN, OLD, USE, ""), False),
    "mixed newlines": (b"import os\r\n" + _lines(PLAIN, OLD, USE, ""), None),
    "comment after a block": (_lines("import os", "def f():\n    return 1\n    # tail\n", OLD, USE, PLAIN, ""), True),
}


@pytest.mark.parametrize("name", sorted(BYTE_CASES))
def test_bytes_same_as_whole_module(name: str, fake_index, monkeypatch) -> None:
    source, expected = BYTE_CASES[name]
    fast, whole = _both(monkeypatch, source, fake_index, path=Path("/p/pkg/m.py"))
    if name == "form feed":  # libcst drops a form feed that starts a statement's line; a
        # statement the excerpt leaves out keeps its original bytes
        whole = (whole[0].replace(b"\n\x0c\ndef f", b"\n\x0c\n\x0cdef f"), *whole[1:])
    assert fast == whole
    assert fast[1], "the old import is rewritten"
    if expected is not None:
        assert _excerpt_taken(source, fake_index) is expected


def test_notebook_same_as_whole_module(tmp_path: Path, fake_index, monkeypatch) -> None:
    cells = [["import os\n", "\n", "def f():\n", "    return os.sep\n"],
             ["%%time\n", OLD + "\n", USE + "\n"], ["x = f()\n"]]
    nb = {"nbformat": 4, "metadata": {}, "nbformat_minor": 5, "cells": [
        {"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
        for s in cells]}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb, indent=1))
    fast = process_file(path, fake_index, Options(mode="diff"))
    monkeypatch.setattr(pipeline, "EXCERPTS", False)
    whole = process_file(path, fake_index, Options(mode="diff"))
    assert fast.status == whole.status == "changed"
    assert (fast.diff, fast.items) == (whole.diff, whole.items)


def _corpus(tmp_path: Path) -> list[Path]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import make_legacy_corpus
        import realistic_corpus
    finally:
        sys.path.remove(str(BENCHMARKS))
    dense = make_legacy_corpus.build(tmp_path / "dense", 6, seed=3)
    ordinary = realistic_corpus.build(tmp_path / "ordinary", 12, seed=5, users=0.6)
    return dense + ordinary


def test_corpus_slice_same_as_whole_module(tmp_path: Path, monkeypatch) -> None:
    index = LegacyIndex.load()
    files = [p for p in _corpus(tmp_path) if index.mentions(p.read_bytes())]
    taken = 0
    for path in files:
        data = path.read_bytes()
        fast, whole = _both(monkeypatch, data, index, path=path)
        assert fast == whole, path
        taken += _excerpt_taken(data, index, path)
    assert taken >= len(files) // 2  # the ordinary modules are mostly left out of libcst


def test_run_exit_codes_and_reports_same(tmp_path: Path, monkeypatch) -> None:
    fixtures = Path(__file__).parent / "fixtures"
    for mode in ("check", "write"):
        reports = []
        for excerpts in (True, False):
            copy = tmp_path / f"{mode}-{excerpts}"
            shutil.copytree(fixtures, copy)
            monkeypatch.setattr(pipeline, "EXCERPTS", excerpts)
            result = run([copy], Options(mode=mode, strict=True, jobs=1), entries=ENTRIES)
            report = json.loads(json.dumps(result.report()).replace(str(copy), "<root>"))
            files = {str(p.relative_to(copy)): p.read_bytes() for p in sorted(copy.rglob("*.py"))}
            reports.append((report, files))
        assert reports[0] == reports[1]
        assert reports[0][0]["exit_code"] == 1
