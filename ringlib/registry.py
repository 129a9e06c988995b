"""The registry of legacy ``dilated_attention_pytorch`` 0.2 names: plain data, one source of truth.

Read by the shim (``legacy/dilated_attention_pytorch``), the codemods (``ringlib migrate``),
the parity harness (``ringlib parity``), ``ringlib list`` and the tables of MIGRATION.md.
Nothing here imports torch: the command line stays fast.

Schema
------
``LegacyName`` describes one old public object (a class, function or module). Its
``rewrites`` say how a constructor call maps onto canonical ringlib code, once for each
``--semantics`` mode ("preserve": the numbers the old class computed; "intended": the
correct canonical semantics). A ``Rewrite`` is a recipe, not code: the shim evaluates it
with runtime values, the codemod with the user's source expressions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Numerics = Literal["preserve", "intended"]
Semantics = Literal["preserve", "intended"]


class _Required:
    """Marker for an old parameter without a default."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()


@dataclass(frozen=True)
class Param:
    """One parameter of an old constructor, in signature order.

    ``role`` is "map" (it feeds the rewrite), "ignored" (accepted, no effect: the codemod
    drops it with a note) or "unsupported" (a rewrite that uses it cannot be proven safe:
    the codemod leaves the call alone with a comment). ``kind`` follows ``inspect``:
    "positional_or_keyword", "keyword_only", "var_positional", "var_keyword".
    """

    name: str
    default: object = REQUIRED
    role: Literal["map", "ignored", "unsupported"] = "map"
    kind: str = "positional_or_keyword"
    note: str = ""


@dataclass(frozen=True)
class Arg:
    """One argument of the canonical call.

    Exactly one of: ``source`` (the old parameter whose value is passed through),
    ``value`` (a constant, written as Python source, e.g. ``"'snake'"`` or ``"None"``),
    ``template`` (Python source with ``{param}`` placeholders, e.g. ``"{dim} ** -0.5"``),
    ``choose`` (map a literal value of ``source`` to Python source: a flag such as
    ``use_hilbert`` -> ``{"True": "'snake'", "False": "None"}``).
    ``keyword`` None means positional. ``omit_if_default``: leave the argument out when
    the old call left ``source`` at its old default.
    """

    keyword: str | None = None
    source: str | None = None
    value: str | None = None
    template: str | None = None
    choose: tuple[tuple[str, str], ...] = ()
    omit_if_default: bool = True


@dataclass(frozen=True)
class Rewrite:
    """A canonical call that builds what the old constructor built.

    ``target`` is a dotted callable (``"ringlib.MultiheadDilatedAttention"``); ``args``
    its arguments in order. An ``Arg`` whose ``value`` is ``"<pattern>"`` is replaced by the
    pattern call built from ``pattern`` and ``pattern_args``.
    ``safe`` False: the codemod never rewrites this name automatically (it comments and
    reports ``reason`` instead), e.g. because the forward signature or return convention of
    the old class differs from the canonical module's.
    """

    target: str
    args: tuple[Arg, ...] = ()
    pattern: str | None = None
    pattern_args: tuple[Arg, ...] = ()
    safe: bool = True
    reason: str = ""


@dataclass(frozen=True)
class Divergence:
    """A measured numerical difference from what the old class computed."""

    what: str
    measured: str


@dataclass(frozen=True)
class LegacyName:
    """One public object of the old package."""

    name: str
    key: str  # unique id; differs from name where one name denoted two objects
    kind: Literal["class", "function", "module", "dataclass", "enum", "object"]
    family: str  # "ring/base", "ring/hilbert", "ring/distributed", "ring/utils", "sparse"
    section: str  # CATALOG.md section, e.g. "7.1"
    paths: tuple[str, ...]  # every dotted path that resolves to this object
    numerics: Numerics
    profile: str  # e.g. "REGIONS(snake iff use_hilbert)", "LONGNET", "EXACT"
    replacement: str  # human-readable canonical replacement
    params: tuple[Param, ...] = ()
    rewrites: dict[str, Rewrite] = field(default_factory=dict)  # keyed by Semantics
    divergences: tuple[Divergence, ...] = ()
    counted: bool = True  # one of the 24 legacy names of the migration

    @property
    def message(self) -> str:
        """The deprecation warning text."""
        return (
            f"{self.name} is deprecated: use {self.replacement} "
            f"(numerics: {self.numerics}, {self.profile}). "
            "Run `ringlib migrate` to rewrite your code; see MIGRATION.md."
        )


# The entries. Filled from ../shared/legacy/CATALOG.md; keep in catalog order.
LEGACY_NAMES: tuple[LegacyName, ...] = ()


def by_key() -> dict[str, LegacyName]:
    return {entry.key: entry for entry in LEGACY_NAMES}


def by_path() -> dict[str, LegacyName]:
    """Every dotted old path -> its entry."""
    return {path: entry for entry in LEGACY_NAMES for path in entry.paths}
