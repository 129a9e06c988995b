"""Rule: ``isinstance``/``issubclass`` checks against an old class."""

from __future__ import annotations

from collections import defaultdict

from ringlib_codemods.resolve import Position, Site
from ringlib_codemods.rules.base import ReplaceReferences


class IsinstanceRule(ReplaceReferences):
    """``isinstance(m, Old)`` -> ``isinstance(m, Canonical)``. Left alone when two old
    classes of the module would become the same class: the check could no longer tell
    them apart (``if isinstance(m, A) ... elif isinstance(m, B)``)."""

    positions = (Position.ISINSTANCE,)

    def plan(self) -> None:
        self.targets: dict[str, set[str]] = defaultdict(set)
        for site in self.ctx.sites(Position.ISINSTANCE):
            rewrite = self.ctx.rewrite_for(site.entry) if site.entry else None
            if rewrite is not None and rewrite.safe:
                self.targets[rewrite.target].add(site.entry.name)
        super().plan()

    def decide(self, site: Site) -> None:
        entry = site.entry
        assert entry is not None
        rewrite = self.class_rewrite(site, f"isinstance against {entry.name}")
        if rewrite is None:
            return
        others = sorted(self.targets[rewrite.target] - {entry.name})
        if others:
            self.ctx.unsafe(site, f"isinstance against {entry.name} could no longer tell it "
                                  f"from {', '.join(others)} (both become {rewrite.target})")
            return
        self.replace[id(site.node)] = rewrite.target
        self.ctx.rewritten_site(site, rewrite)
