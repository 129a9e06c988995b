"""Rule: references that are never rewritten automatically; each gets one comment."""

from __future__ import annotations

import libcst as cst

from ringlib_codemods.resolve import Position, Site
from ringlib_codemods.rules.base import Rule


class ReferenceRule(Rule):
    """Uses of an old object as a value, its attributes, ``__all__`` re-exports, string
    references (checkpoint pickles, config ``_target_``), star imports, imports of old
    modules the registry does not know, and names re-bound to something else: none of
    these can be proven equivalent after a rewrite, so they are marked for a human."""

    positions = (Position.VALUE, Position.ATTRIBUTE, Position.ALL, Position.STRING,
                 Position.STAR, Position.UNKNOWN_MODULE, Position.REMOVED, Position.AMBIGUOUS)

    def decide(self, site: Site) -> None:
        entry = site.entry
        name = entry.name if entry else site.path
        replacement = entry.replacement if entry else "see MIGRATION.md"
        position = site.position
        if position is Position.VALUE:
            reason = f"{name} is used as a value here; replace it by hand ({replacement})"
        elif position is Position.ATTRIBUTE:
            parent = site.parent
            attr = parent.attr.value if isinstance(parent, cst.Attribute) else "?"
            if attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__")):
                reason = f"old private attribute {name}.{attr}"
            else:
                reason = f"{name}.{attr} is an attribute of the old {entry.kind if entry else 'module'}"
                reason += f"; see {replacement}"
        elif position is Position.ALL:
            reason = f"__all__ re-exports the old {name}; export {replacement} instead"
        elif position is Position.STRING:
            text = site.text if len(site.text) <= 80 else site.text[:77] + "..."
            reason = (f"string reference to the old package ({text!r}): update it by hand "
                      "(checkpoint pickles and config targets name classes by path)")
        elif position is Position.STAR:
            reason = ("star import from the old package: import the names explicitly so "
                      "they can be migrated")
        elif position is Position.REMOVED:
            reason = f"{site.path} was removed and the shim does not provide it: use {site.text}"
        elif position is Position.UNKNOWN_MODULE:
            reason = (f"{site.path} is not a module of the old package's last release "
                      "(removed earlier?): see MIGRATION.md")
        else:
            bound = site.binding.bound_name if site.binding else name
            reason = f"{bound} is also bound to something else; if it is the old {name}, " \
                     f"migrate it by hand ({replacement})"
        self.ctx.unsafe(site, reason)
