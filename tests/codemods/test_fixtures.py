"""Before/after fixture pairs, one per rule and per import form, against the fake registry.

Each ``*.before.py`` migrates to its ``*.after.py`` exactly; migrating the result again
changes nothing; the result compiles. A first-line ``# fixture: key=value ...`` comment sets
the semantics or the file's location (relative imports resolve by location).
Set RINGLIB_REGEN_FIXTURES=1 to rewrite the ``.after.py`` files (then review the diff).
"""

import os
import re
from pathlib import Path

import pytest

from ringlib_codemods import COMMENT_PREFIX, migrate_code

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(FIXTURES.rglob("*.before.py"))
ROOT = Path("/fixture-root")


def _options(source: str, case: Path) -> dict:
    match = re.match(r"# fixture: (.*)", source)
    options = dict(kv.split("=", 1) for kv in match.group(1).split()) if match else {}
    path = ROOT / options.pop("path", f"pkg/{case.name.replace('.before.py', '.py')}")
    return {"semantics": options.pop("semantics", "preserve"), "path": path}


@pytest.mark.parametrize("case", CASES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture(case: Path, fake_index) -> None:
    before = case.read_text()
    expected_file = case.with_name(case.name.replace(".before.py", ".after.py"))
    options = _options(before, case)
    result = migrate_code(before, fake_index, **options)
    assert result.error is None
    if os.environ.get("RINGLIB_REGEN_FIXTURES"):
        expected_file.write_text(result.code)
    assert result.code == expected_file.read_text()
    compile(result.code, str(case), "exec")
    again = migrate_code(result.code, fake_index, **options)
    assert again.code == result.code, "a second run must change nothing"
    assert not again.changed
    # every comment is there once and carries a report line
    lines = result.code.splitlines()
    comments = [line for line in lines if COMMENT_PREFIX in line]
    for above, below in zip(lines, lines[1:]):
        assert not (COMMENT_PREFIX in above and COMMENT_PREFIX in below), "one comment per statement"
    if comments:
        assert any(item.kind == "comment" for item in result.items)


def test_every_rule_has_fixtures() -> None:
    rules = {p.parent.name for p in CASES}
    assert {"imports", "calls", "bases", "isinstance", "annotations", "dunder_all", "partial",
            "references"} <= rules
