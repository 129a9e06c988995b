"""Results of a parity run and their three renderings: a rich table, JSON and JUnit XML.

One ``Result`` is one verdict: a (name, configuration, check, backend, dtype, quantity)
with its measured error and the bound it was held to. The table aggregates results per
(name, check, backend, dtype) so that a 24-name run fits on a screen; JSON and JUnit keep
every result, so CI can point at the exact configuration that failed.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable

# Verdicts. The --against classifications are verdicts too: EQUIVALENT, DIVERGES and
# LEGACY-FAILED are outcomes a migration can live with; UNEXPLAINED (the old code computed
# something else and the registry does not say why) is a failure.
PASS, FAIL, ERROR, SKIP = "PASS", "FAIL", "ERROR", "SKIP"
EQUIVALENT, DIVERGES, LEGACY_FAILED, UNEXPLAINED = "EQUIVALENT", "DIVERGES", "LEGACY-FAILED", "UNEXPLAINED"
FAILING = frozenset({FAIL, ERROR, UNEXPLAINED})
_SEVERITY = {SKIP: 0, PASS: 1, EQUIVALENT: 1, LEGACY_FAILED: 2, DIVERGES: 3, UNEXPLAINED: 5, FAIL: 5, ERROR: 6}


@dataclass
class Result:
    name: str  # legacy name (registry key) or canonical pattern ("ringlib.Dilated")
    case: str  # the configuration, human-readable and stable ("L=192 B=2 H=4 D=16 causal ...")
    check: str  # "bitwise" | "backend" | "against"
    backend: str  # "sdpa", "flex", "ring", "shim" (bitwise), "legacy" (against)
    dtype: str
    quantity: str  # "output", "grad q", "grad qkv_proj.weight", ...
    status: str
    error: float | None = None  # max-abs error against the float64 reference (or the other side)
    bound: float | None = None  # k * plain error + floor
    plain_error: float | None = None
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.status in FAILING

    @property
    def ratio(self) -> float:
        if self.error is None or not self.bound:
            return 0.0
        return self.error / self.bound


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  # device, dtypes, torch version, k, stand-ins, ...

    def add(self, result: Result) -> Result:
        self.results.append(result)
        return result

    def extend(self, results: Iterable[Result]) -> None:
        self.results.extend(results)

    @property
    def ok(self) -> bool:
        return not any(r.failed for r in self.results)

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if r.failed]

    def names(self) -> list[str]:
        return list(dict.fromkeys(r.name for r in self.results))

    def classification(self, name: str) -> str | None:
        """The --against verdict of one name: the most severe over its configurations."""
        verdicts = [r.status for r in self.results if r.name == name and r.check == "against"
                    and r.quantity == "output"]
        return max(verdicts, key=_SEVERITY.__getitem__) if verdicts else None

    # ----------------------------------------------------------------------------- renderings

    def summary_rows(self) -> list[dict]:
        """One row per (name, check, backend, dtype): worst verdict, worst error/bound."""
        groups: dict[tuple, list[Result]] = {}
        for r in self.results:
            groups.setdefault((r.name, r.check, r.backend, r.dtype), []).append(r)
        rows = []
        for (name, check, backend, dtype), rs in groups.items():
            worst = max(rs, key=lambda r: (_SEVERITY[r.status], r.ratio))
            measured = [r for r in rs if r.error is not None]
            top = max(measured, key=lambda r: r.ratio) if measured else None
            rows.append({
                "name": name, "check": check, "backend": backend, "dtype": dtype,
                "status": worst.status, "results": len(rs),
                "failed": sum(r.failed for r in rs),
                "error": top.error if top else None, "bound": top.bound if top else None,
                "message": worst.message if worst.status not in (PASS, EQUIVALENT) else "",
            })
        return rows

    def to_json(self) -> dict:
        return {"ok": self.ok, "meta": self.meta, "summary": self.summary_rows(),
                "results": [_jsonable(asdict(r)) for r in self.results]}

    def write_json(self, path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, indent=1)

    def write_junit(self, path) -> None:
        """JUnit XML: one test suite per name, one test case per result."""
        root = ET.Element("testsuites", name="ringlib parity", tests=str(len(self.results)),
                          failures=str(len(self.failures)))
        for name in self.names():
            rs = [r for r in self.results if r.name == name]
            suite = ET.SubElement(root, "testsuite", name=name, tests=str(len(rs)),
                                  failures=str(sum(r.failed for r in rs)),
                                  skipped=str(sum(r.status == SKIP for r in rs)))
            for r in rs:
                case = ET.SubElement(suite, "testcase", classname=f"parity.{name}",
                                     name=f"{r.check}[{r.backend},{r.dtype},{r.quantity}] {r.case}")
                text = _describe(r)
                if r.failed:
                    ET.SubElement(case, "failure", message=f"{r.status}: {text}"[:500]).text = text
                elif r.status == SKIP:
                    ET.SubElement(case, "skipped", message=r.message[:500])
                else:
                    ET.SubElement(case, "system-out").text = f"{r.status}: {text}"
        ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)

    def to_markdown(self, command: str = "") -> str:
        """The summary as a markdown table with its provenance (for benchmarks/results/)."""
        lines = ["# ringlib parity", ""]
        for key in ("device", "torch", "date", "dtypes", "backends", "rule", "bitwise", "seconds"):
            if key in self.meta:
                lines.append(f"* {key}: {self.meta[key]}")
        if command:
            lines.append(f"* command: `{command}`")
        lines += ["", f"Verdict: **{'all within tolerance' if self.ok else f'{len(self.failures)} failure(s)'}** "
                  f"({len(self.results)} results over {len(self.names())} names).", "",
                  "| name | check | backend | dtype | verdict | results passed | worst error / bound |",
                  "|---|---|---|---|---|---|---|"]
        for row in self.summary_rows():
            err = "" if row["error"] is None else (f"{row['error']:.2e} / {row['bound']:.2e}" if row["bound"]
                                                   else f"{row['error']:.2e}")
            lines.append(f"| {row['name']} | {row['check']} | {row['backend']} | {row['dtype']} | {row['status']} | "
                         f"{row['results'] - row['failed']}/{row['results']} | {err} |")
        return "\n".join(lines) + "\n"

    def render(self, console=None) -> None:
        """Print the summary as a rich table (and the failures in detail)."""
        from rich.console import Console
        from rich.table import Table

        console = console or Console()
        table = Table(title="ringlib parity", show_lines=False)
        for col in ("name", "check", "backend", "dtype", "verdict", "results", "worst error / bound", "note"):
            table.add_column(col, overflow="fold")
        colour = {PASS: "green", EQUIVALENT: "green", SKIP: "dim", DIVERGES: "yellow",
                  LEGACY_FAILED: "yellow", FAIL: "red", ERROR: "red", UNEXPLAINED: "red"}
        for row in self.summary_rows():
            err = "" if row["error"] is None else f"{row['error']:.2e} / {row['bound']:.2e}" if row["bound"] else f"{row['error']:.2e}"
            counts = f"{row['results'] - row['failed']}/{row['results']}"
            table.add_row(row["name"], row["check"], row["backend"], row["dtype"],
                          f"[{colour[row['status']]}]{row['status']}[/]", counts, err, row["message"][:120])
        console.print(table)
        for key, value in self.meta.items():
            console.print(f"[dim]{key}:[/] {value}")
        for r in self.failures[:30]:
            console.print(f"[red]{r.status}[/] {r.name} {r.check} {r.backend} {r.dtype} {r.quantity} "
                          f"({r.case}): {_describe(r)}")
        if len(self.failures) > 30:
            console.print(f"... and {len(self.failures) - 30} more failures (see --json)")
        verdict = "[green]parity OK[/]" if self.ok else f"[red]{len(self.failures)} failure(s)[/]"
        console.print(f"{verdict}: {len(self.results)} results over {len(self.names())} names")


def _describe(r: Result) -> str:
    parts = []
    if r.error is not None:
        parts.append(f"error {r.error:.3e}")
    if r.bound is not None:
        parts.append(f"bound {r.bound:.3e}")
    if r.plain_error is not None:
        parts.append(f"plain {r.plain_error:.3e}")
    if r.message:
        parts.append(r.message)
    return "; ".join(parts)


def _jsonable(d: dict) -> dict:
    return {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def emit(report: Report, on_result: Callable[[Result], None] | None, result: Result) -> None:
    """Add ``result`` to ``report`` and tell the caller's progress callback."""
    report.add(result)
    if on_result is not None:
        on_result(result)
