"""State shared by the rules of one file: decisions, comments, report items, imports."""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass
from typing import Iterable

import libcst as cst
from libcst.helpers import get_full_name_for_node

from ringlib_legacy.schema import LegacyName, Rewrite
from ringlib_codemods.index import LegacyIndex
from ringlib_codemods.resolve import Analysis, Position, Site

COMMENT_PREFIX = "# ringlib-migrate:"


@dataclass
class Item:
    """One line of the report."""

    path: str
    line: int
    column: int
    kind: str  # "rewritten", "comment", "note", "error", "skipped"
    message: str
    name: str = ""
    position: str = ""
    numerics: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


class Context:
    """Decisions of all rules for one module; rules write here during ``plan``."""

    def __init__(self, analysis: Analysis, semantics: str, label: str) -> None:
        self.analysis = analysis
        self.index: LegacyIndex = analysis.index
        self.semantics = semantics
        self.label = label
        self.rewritten: set[int] = set()  # id(site)
        self.claimed: set[int] = set()  # id(site) decided by an earlier rule (others skip it)
        self.comments: dict[int, list[str]] = {}  # id(statement) -> reasons
        self.partial_unsafe: dict[int, str] = {}  # id(site) -> why PartialRule left it
        self.items: list[Item] = []
        self.imports_needed: set[str] = set()  # top-level modules the new code uses
        self.ringlib = self._ringlib_alias()
        self._expr_cache: dict[str, cst.BaseExpression] = {}

    # -- sites ----------------------------------------------------------------------------
    def sites(self, *positions: Position) -> list[Site]:
        return [s for s in self.analysis.sites if s.position in positions]

    def rewrite_for(self, entry: LegacyName) -> Rewrite | None:
        return self.index.rewrite_for(entry, self.semantics)

    def usable_rewrite(self, site: Site) -> Rewrite | None:
        """The recipe for ``site``, or None after recording why there is none."""
        entry = site.entry
        assert entry is not None
        rewrite = self.rewrite_for(entry)
        if rewrite is None:
            self.unsafe(site, f"{entry.name}: no automatic rewrite; use {entry.replacement}")
            return None
        if not rewrite.safe:
            reason = rewrite.reason or "not provably equivalent"
            self.unsafe(site, f"{entry.name}: {reason}; use {entry.replacement}")
            return None
        return rewrite

    # -- recording ------------------------------------------------------------------------
    def _item(self, site: Site | None, node: cst.CSTNode | None, kind: str, message: str,
              numerics: str = "") -> Item:
        line, column = self.analysis.line_of(node) if node is not None else (0, 0)
        item = Item(self.label, line, column, kind, message,
                    site.name if site else "", site.position.value if site else "", numerics)
        self.items.append(item)
        return item

    def rewritten_site(self, site: Site, rewrite: Rewrite, notes: Iterable[str] = (),
                       sources: Iterable[str] = ()) -> None:
        """Record a rewrite; ``sources`` are the recipe expressions it wrote (for imports)."""
        self.rewritten.add(id(site))
        assert site.entry is not None
        self._item(site, site.node, "rewritten", f"{site.entry.name} -> {rewrite.target}",
                   self.numerics(site.entry))
        if rewrite.reason and site.position is Position.CALL:
            self._item(site, site.node, "note", f"check the uses: {rewrite.reason}")
        for note in notes:
            self._item(site, site.node, "note", note)
        for source in (rewrite.target, *sources):
            self.imports_needed.update(self.top_names(source))

    def unsafe(self, site: Site, reason: str) -> None:
        """Leave ``site`` as it is: one comment on its statement and a report line."""
        reason = " ".join(reason.split())
        reasons = self.comments.setdefault(id(site.statement), [])
        if reason not in reasons:
            reasons.append(reason)
        self._item(site, site.node, "comment", reason)

    def numerics(self, entry: LegacyName) -> str:
        """The numerical change at a rewritten site, from the registry's divergences.

        preserve: the numbers of the shim (legacy bugs the shim does not reproduce are
        listed in MIGRATION.md); intended: each additional change, as measured.
        """
        if self.semantics == "preserve":
            return f"none: the shim's numbers ({entry.numerics}: {entry.profile})"
        preserve, intended = entry.rewrites.get("preserve"), entry.rewrites.get("intended")
        changes = [f"{d.what}: {d.measured}" for d in entry.divergences
                   if getattr(d, "applies", "shim") == "intended"]
        if not changes and preserve is not None and intended is not None and preserve != intended:
            changes.append(f"{entry.profile} -> {intended.pattern or intended.target} "
                           "(no measurement in the registry)")
        return "; ".join(changes) if changes else f"none: same as --semantics preserve ({entry.profile})"

    # -- building new code ----------------------------------------------------------------
    def _ringlib_alias(self) -> str:
        """The name under which ringlib is (or will be) imported at module level."""
        scope = self.analysis.module_scope
        if scope is None:
            return "ringlib"
        for node in self.analysis.module_imports():
            for alias in node.names:
                if (get_full_name_for_node(alias.name) or "").split(".")[0] == "ringlib":
                    if alias.asname is not None:
                        return get_full_name_for_node(alias.asname.name) or "ringlib"
                    return "ringlib"
        if "ringlib" in scope:
            return "_ringlib"  # the user's own name "ringlib" stays untouched
        return "ringlib"

    def expr(self, source: str) -> cst.BaseExpression:
        """Parse recipe source (from the registry), using the module's alias for ringlib."""
        node = self._expr_cache.get(source)
        if node is None:
            code = source
            if self.ringlib != "ringlib":
                code = re.sub(r"(?<![\w.])ringlib(?=\.)", self.ringlib, code)
            node = _parsed_expression(code)
            self._expr_cache[source] = node
        return node

    def top_names(self, source: str) -> set[str]:
        """Top-level modules a recipe expression refers to (they must be imported)."""
        names = set(re.findall(r"(?<![\w.'\"])([A-Za-z_]\w*)\.", source))
        return {n for n in names if n == "ringlib" or n in _KNOWN_MODULES}

    def note_comment_exists(self, statement: cst.CSTNode) -> bool:
        return has_migrate_comment(statement)


_KNOWN_MODULES = {"torch", "math", "functools"}


@functools.lru_cache(maxsize=1024)
def _parsed_expression(code: str) -> cst.BaseExpression:
    """A recipe expression (nodes are immutable: every file writing it shares one)."""
    return cst.parse_expression(code)


def has_migrate_comment(statement: cst.CSTNode) -> bool:
    for line in getattr(statement, "leading_lines", ()):
        if line.comment is not None and line.comment.value.startswith(COMMENT_PREFIX):
            return True
    return False
