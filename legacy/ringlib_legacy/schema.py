"""The schema of the registry: one dataclass per kind of fact about an old public object.

Rows are written as keyword constructions of these classes (``ringlib_legacy.rows``); the
shim, the codemod, the parity harness, ``ringlib list`` and MIGRATION.md all read them.
Nothing here imports torch or libcst: the command line and the shim stay light.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Numerics = Literal["preserve", "intended"]
Semantics = Literal["preserve", "intended"]
SEMANTICS: tuple[Semantics, ...] = ("preserve", "intended")

#: ``Arg(value=PATTERN)`` stands for the pattern call built from ``Rewrite.pattern``/``pattern_args``.
PATTERN = "<pattern>"


class _Required:
    """Marker for an old parameter without a default."""

    def __repr__(self) -> str:
        return "REQUIRED"

    def __reduce__(self) -> str:
        return "REQUIRED"  # unpickles as the module's singleton (process pools, caches)


REQUIRED = _Required()


def is_required(param: Param) -> bool:
    """The old parameter had no default."""
    return param.default is REQUIRED


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
    ``value`` (a constant, written as Python source, e.g. ``"'snake'"`` or ``"None"``;
    ``PATTERN`` for the pattern call), ``template`` (Python source with ``{param}``
    placeholders, e.g. ``"{dim} ** -0.5"``), or ``source`` with ``choose`` (map a literal
    value of ``source`` to Python source: a flag such as ``use_hilbert`` ->
    ``{"True": "'snake'", "False": "None"}``).
    ``keyword`` None means positional. ``omit_if_default``: leave the argument out when
    the old call left ``source`` at its old default.
    """

    keyword: str | None = None
    source: str | None = None
    value: str | None = None
    template: str | None = None
    choose: tuple[tuple[str, str], ...] = ()
    omit_if_default: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.choose, dict):  # rows may write the table as a dict
            object.__setattr__(self, "choose", tuple(self.choose.items()))


@dataclass(frozen=True)
class Rewrite:
    """A canonical call that builds what the old constructor built.

    ``target`` is a dotted callable (``"ringlib.MultiheadDilatedAttention"``); ``args``
    its arguments in order. An ``Arg`` whose ``value`` is ``PATTERN`` is replaced by the
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
    """A measured numerical difference from what the old class computed.

    ``applies``: "shim" (the shim and the preserve rewrite already differ from the old code
    here: a legacy bug that is not reproduced) or "intended" (the additional change made by
    ``--semantics intended``).
    """

    what: str
    measured: str
    applies: Literal["shim", "intended"] = "shim"


@dataclass(frozen=True)
class Concat:
    """Old keys joined (``torch.cat`` along ``dim``) into one new key: separate q/k/v
    projections into a fused ``qkv_proj``."""

    sources: tuple[str, ...]
    target: str
    dim: int = 0


@dataclass(frozen=True)
class Split:
    """Every old key under ``source`` (a prefix) cut into equal parts along ``dim``, one per
    ``targets`` prefix: a fused qkv projection into separate q/k/v projections."""

    source: str
    targets: tuple[str, ...]
    dim: int = 0


@dataclass(frozen=True)
class KeyMap:
    """How an old checkpoint (``state_dict``) becomes the rewrite target's, as rules applied in order.

    ``rename``: ``(old prefix, new prefix)`` pairs; a new prefix ``""`` strips the old one.
    ``drop``: prefixes of old keys the old class stored but never used in its forward (dropping
    them changes no number). ``concat``: fused projections; ``split``: the reverse. ``copy``:
    ``(old prefix, new prefix)`` pairs whose tensors serve two modules of the replacement (one
    old LayerNorm used twice). ``loads`` / ``equal``: what the checkpoint test measures (strict
    load of the mapped keys; float32 outputs bit-identical to the shim's on the same checkpoint
    and, where the old forward ran, within the flash-attn rule of the old output); False with
    ``reason`` where it cannot hold (the codemod flags such a site). ``origin``: "0.2" (old
    checkpoints recorded from 0.2) or "shim" (0.2 could not build the class: only the shim
    ever saved one). ``ringlib_legacy.checkpoints.load_legacy_state_dict`` applies it.

    A prefix component ``*`` matches any one dotted component of a key (a layer index of a
    stack: ``"encoder.layers.*.norm1."``); the new prefix of a rename, copy or split has as many
    ``*`` and receives the matched components in order (``"encoder_layers.*.self_attn_norm."``).
    """

    rename: tuple[tuple[str, str], ...] = ()
    drop: tuple[str, ...] = ()
    concat: tuple[Concat, ...] = ()
    split: tuple[Split, ...] = ()
    copy: tuple[tuple[str, str], ...] = ()
    loads: bool = True
    equal: bool = True
    reason: str = ""
    origin: Literal["0.2", "shim"] = "0.2"

    def __post_init__(self) -> None:
        for name in ("rename", "copy"):
            if isinstance(getattr(self, name), dict):  # rows may write prefix pairs as a dict
                object.__setattr__(self, name, tuple(getattr(self, name).items()))
        pairs = [*self.rename, *self.copy, *((f.source, t) for f in self.split for t in f.targets)]
        for old, new in pairs:
            if new.count("*") != old.count("*"):
                raise ValueError(f"KeyMap: {old!r} -> {new!r}: the new prefix needs as many '*' as the old one")
        if (not self.loads or not self.equal) and not self.reason:
            raise ValueError("KeyMap: loads=False or equal=False needs a reason")


#: The key map of a class whose checkpoint keys are the rewrite target's as they are.
SAME_KEYS = KeyMap()


@dataclass(frozen=True)
class LegacyName:
    """One public object of the old package.

    ``paths``: every dotted path that resolves to the object (package re-exports, defining
    and incidental modules, the flat modules of the earlier layout). ``rewrites``: the
    canonical call per ``--semantics`` mode; a row that gives only "preserve" uses it for
    "intended" too. ``key`` (default: ``name``) tells apart two objects of one name.
    ``counted``: one of the 24 names of the migration (False for companions: configs,
    factories, helpers, modules). ``checkpoint``: how the old class's ``state_dict`` loads into
    the preserve rewrite's module (None: the class holds no state).
    """

    name: str
    kind: Literal["class", "function", "module", "dataclass", "enum", "object"]
    family: str  # "dilated", "ring/base", "ring/hilbert", "ring/distributed", "ring/utils", "sparse"
    numerics: Numerics
    profile: str  # e.g. "REGIONS(snake iff use_hilbert)", "LONGNET", "EXACT"
    replacement: str  # human-readable canonical replacement
    paths: tuple[str, ...]
    params: tuple[Param, ...] = ()
    rewrites: dict[str, Rewrite] = field(default_factory=dict)  # keyed by Semantics
    divergences: tuple[Divergence, ...] = ()
    counted: bool = True
    key: str = ""
    checkpoint: KeyMap | None = None

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.name)
        if "preserve" in self.rewrites and "intended" not in self.rewrites:
            object.__setattr__(self, "rewrites", {**self.rewrites, "intended": self.rewrites["preserve"]})

    @property
    def message(self) -> str:
        """The deprecation warning text: complete without any file a pip user may lack."""
        return (
            f"{self.name} is deprecated: use {self.replacement} "
            f"(numerics: {self.numerics}, {self.profile}). "
            f"Run `ringlib migrate` to rewrite your code; `ringlib list {self.key}` prints the whole entry"
            + (" and how old checkpoints load (ringlib_legacy.checkpoints.load_legacy_state_dict)."
               if self.checkpoint is not None else ".")
        )


@dataclass(frozen=True)
class Removed:
    """An old public name (or module) that the shim does not carry over."""

    path: str  # dotted path of the old name or module
    use_instead: str
    kind: Literal["name", "module"] = "name"

    @property
    def message(self) -> str:
        what = "module" if self.kind == "module" else "name"
        return (
            f"{self.path} ({what} of dilated_attention_pytorch) was removed and is not provided "
            f"by the ringlib shim; use {self.use_instead}. `ringlib list --removed` lists every removed path."
        )
