"""The verdict of a compare run, for people and for CI: a rich table, JSON, JUnit XML, one line.

The table lists every call that is not bitwise (and a count of those that are); JSON keeps
every call; JUnit has one test case per scope (a test or a script) that fails when any of
its calls does, with each failing call named in the failure text.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field

from ringlib_parity.usercode.compare import BITWISE, EXPECTED, ScopeVerdict

_COLOUR = {"bitwise": "green", "expected": "yellow", "differs": "red", "mismatch": "red", "missing": "red",
           "extra": "red"}
MAX_ROWS = 60


@dataclass
class Report:
    scopes: list[ScopeVerdict] = field(default_factory=list)
    semantics: str = "preserve"
    unit: str = "tests"  # what a scope is: "tests" or "scripts"

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.scopes)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for scope in self.scopes:
            for call in scope.calls:
                counts[call.status] = counts.get(call.status, 0) + 1
        return counts

    def summary(self) -> str:
        """One line: ``ringlib parity: 3 tests, 14 calls: 12 bitwise, 2 expected -> OK``."""
        counts = self.counts()
        calls = sum(counts.values())
        parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items(), key=lambda kv: kv[0] != BITWISE))
        new = sum(not s.recorded for s in self.scopes)
        failed = sum(not s.ok for s in self.scopes)
        text = f"ringlib parity: {_count(len(self.scopes) - new, self.unit)}, {_count(calls, 'calls')}"
        text += f": {parts}" if parts else ""
        text += f"; {_count(new, self.unit)} not in the record" if new else ""
        return text + (f" -> FAILED ({_count(failed, self.unit)})" if failed else " -> OK")

    def to_json(self) -> dict:
        return {"ok": self.ok, "semantics": self.semantics, "summary": self.summary(), "counts": self.counts(),
                "scopes": [{"scope": s.scope, "ok": s.ok, "recorded": s.recorded,
                            "calls": [_jsonable(asdict(c)) for c in s.calls]} for s in self.scopes]}

    def write_json(self, path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, indent=1)

    def write_junit(self, path) -> None:
        failures = sum(not s.ok for s in self.scopes)
        root = ET.Element("testsuites", name="ringlib parity", tests=str(len(self.scopes)), failures=str(failures))
        suite = ET.SubElement(root, "testsuite", name="ringlib parity", tests=str(len(self.scopes)),
                              failures=str(failures), skipped=str(sum(not s.recorded for s in self.scopes)))
        for scope in self.scopes:
            case = ET.SubElement(suite, "testcase", classname="ringlib.parity", name=scope.scope)
            if not scope.recorded:
                ET.SubElement(case, "skipped", message="not in the record")
            elif not scope.ok:
                text = "\n".join(c.describe() for c in scope.failures)
                ET.SubElement(case, "failure", message=text.splitlines()[0][:500]).text = text
            else:
                ET.SubElement(case, "system-out").text = "\n".join(c.describe() for c in scope.calls)
        ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)

    def render(self, console=None) -> None:
        """The calls that are not bitwise as a rich table, then the one-line summary."""
        from rich.console import Console
        from rich.table import Table

        console = console or Console()
        rows = [c for s in self.scopes for c in s.calls if c.status != BITWISE]
        if rows:
            table = Table(title=f"ringlib parity (semantics {self.semantics})")
            for column in ("scope", "call", "where", "recorded -> now", "verdict", "max abs", "max rel", "note"):
                table.add_column(column, overflow="fold")
            for c in sorted(rows, key=lambda c: (c.status == EXPECTED, c.scope, c.index))[:MAX_ROWS]:
                table.add_row(c.scope, str(c.index), c.where, f"{c.recorded} -> {c.now}",
                              f"[{_COLOUR[c.status]}]{c.status}[/]", _number(c.max_abs), _number(c.max_rel),
                              c.note[:160])
            console.print(table)
            if len(rows) > MAX_ROWS:
                console.print(f"... and {len(rows) - MAX_ROWS} more calls (see the JSON report)")
        colour = "green" if self.ok else "red"
        console.print(f"[{colour}]{self.summary()}[/]")


def _count(n: int, plural: str) -> str:
    return f"{n} {plural[:-1] if n == 1 else plural}"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3e}"


def _jsonable(d: dict) -> dict:
    return {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}
