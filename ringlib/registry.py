"""The registry of legacy ``dilated_attention_pytorch`` 0.2 names: plain data, one source of truth.

Read by the shim (``legacy/dilated_attention_pytorch``), the codemods (``ringlib migrate``),
the parity harness (``ringlib parity``), ``ringlib list`` and the tables of MIGRATION.md.
Nothing here imports torch: the command line stays fast.

The 24 names
------------
The old package's 24 attention classes are the first 24 rows of the catalog's index table
(CATALOG.md §14), marked ``counted=True``:

* 17 "preserve" classes with golden data (§13): ``RingDilatedAttentionCorrect``,
  ``RingAttentionWrapper``, ``RingDilatedAttentionV3``, ``RingDilatedAttentionSDPA``,
  ``RingDilatedAttentionFixedSimple``, ``RingDilatedAttentionMemoryEfficient``,
  ``RingDilatedAttentionHilbertProper``, ``RingDilatedAttentionHilbertGPUOptimized``,
  ``RingDilatedAttentionHilbertCore``, ``RingDilatedAttentionHilbertOptimizedCorrect``,
  ``RingDilatedAttentionHilbertOptimizedFixed``, ``RingDilatedAttentionHilbertOptimizedFixedV2``,
  ``BlockSparseRingDilatedAttention``, ``BlockSparseRingDilatedAttentionFixed``,
  ``BlockSparseRingDilatedAttentionHilbertPostPattern``,
  ``BlockSparseRingMultiheadDilatedAttention``, ``BlockSparseAdaptive`` (the original);
* 1 "preserve" class without golden data: the lazy ``BlockSparseAdaptive``
  (``sparse.BlockSparseAdaptiveFixed``, same math as the original);
* 6 "intended" classes: ``RingDilatedAttentionHilbertCoreFixed``,
  ``RingDistributedDilatedAttention``, ``BlockSparseRingDistributedDilatedAttention``,
  ``RingAttentionFunction``, ``MemoryEfficientRingAttentionFunction``,
  ``StableRingAccumulator``.

Everything else is ``counted=False``: aliases are extra paths of their entry (same object);
companions (configs, factories, helper functions and modules of §10, the functional forms
``ring_attention`` / ``memory_efficient_ring_attention``, the old base ``DilatedAttention``)
have entries of their own.

Schema
------
``LegacyName`` describes one old public object (a class, function or module). Its
``rewrites`` say how a constructor call maps onto canonical ringlib code, once for each
``--semantics`` mode ("preserve": the numbers the old class computed; "intended": the
correct canonical semantics). A ``Rewrite`` is a recipe, not code: the shim evaluates it
with runtime values, the codemod with the user's source expressions (``render_call``).
``paths`` hold every dotted path of the object: package re-exports, defining and incidental
module paths, and the flat module paths of the earlier layout (§15, added automatically).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping

Numerics = Literal["preserve", "intended"]
Semantics = Literal["preserve", "intended"]


class _Required:
    """Marker for an old parameter without a default."""

    def __repr__(self) -> str:
        return "REQUIRED"

    def __reduce__(self) -> str:
        return "REQUIRED"  # unpickles as the module's singleton (process pools, caches)


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
    """A measured numerical difference from what the old class computed.

    ``applies``: "shim" (the shim and the preserve rewrite already differ from the old code
    here: a legacy bug that is not reproduced) or "intended" (the additional change made by
    ``--semantics intended``).
    """

    what: str
    measured: str
    applies: Literal["shim", "intended"] = "shim"


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
            f"by the ringlib shim; use {self.use_instead}. See MIGRATION.md."
        )


# ---------------------------------------------------------------------------------------------
# Path building blocks (CATALOG §14 abbreviations)

T = "dilated_attention_pytorch"
R = f"{T}.ring"
RB = f"{R}.base"
RH = f"{R}.hilbert"
RD = f"{R}.distributed"
RU = f"{R}.utils"
S = f"{T}.sparse"

#: nested module -> flat module of the earlier layout (CATALOG §15); same objects.
FLAT_MODULES: dict[str, str] = {
    f"{RB}.ring_dilated_attention_correct": f"{T}.ring_dilated_attention_correct",
    f"{RB}.ring_dilated_attention_v3": f"{T}.ring_dilated_attention_v3",
    f"{RB}.ring_dilated_attention_sdpa": f"{T}.ring_dilated_attention_sdpa",
    f"{RB}.ring_dilated_attention_fixed_simple": f"{T}.ring_dilated_attention_fixed_simple",
    f"{RB}.ring_dilated_attention_memory_efficient": f"{T}.ring_dilated_attention_memory_efficient",
    f"{RH}.ring_dilated_attention_hilbert_proper": f"{T}.ring_dilated_attention_hilbert_proper",
    f"{RH}.ring_dilated_attention_hilbert_core": f"{T}.ring_dilated_attention_hilbert_core",
    f"{RH}.ring_dilated_attention_hilbert_core_fixed": f"{T}.ring_dilated_attention_hilbert_core_fixed",
    f"{RH}.ring_dilated_attention_hilbert_optimized_correct": f"{T}.ring_dilated_attention_hilbert_optimized_correct",
    f"{RH}.ring_dilated_attention_hilbert_optimized_fixed": f"{T}.ring_dilated_attention_hilbert_optimized_fixed",
    f"{RH}.ring_dilated_attention_hilbert_optimized_fixed_v2": f"{T}.ring_dilated_attention_hilbert_optimized_fixed_v2",
    f"{RH}.ring_dilated_attention_hilbert_gpu_optimized": f"{T}.ring_dilated_attention_hilbert_gpu_optimized",
    f"{RD}.ring_distributed_dilated_attention": f"{T}.ring_distributed_dilated_attention",
    f"{S}.block_sparse_ring_dilated_attention": f"{T}.block_sparse_ring_dilated_attention",
    f"{S}.block_sparse_ring_dilated_attention_fixed": f"{T}.block_sparse_ring_dilated_attention_fixed",
    f"{S}.block_sparse_ring_dilated_attention_hilbert_post_pattern": f"{T}.block_sparse_ring_dilated_attention_hilbert_post_pattern",
    f"{S}.block_sparse_ring_multihead_dilated_attention": f"{T}.block_sparse_ring_multihead_dilated_attention",
    f"{S}.block_sparse_ring_distributed_dilated_attention": f"{T}.block_sparse_ring_distributed_dilated_attention",
    f"{S}.block_sparse_adaptive": f"{T}.block_sparse_adaptive",
    f"{S}.block_sparse_adaptive_fixed": f"{T}.block_sparse_adaptive_fixed",
    f"{S}.block_sparse_factory": f"{T}.block_sparse_factory",
    f"{RU}.ring_attention_autograd": f"{T}.ring_attention_autograd",
    f"{RU}.ring_attention_memory_efficient": f"{T}.ring_attention_memory_efficient",
    f"{RU}.ring_attention_lse": f"{T}.ring_attention_lse",
    f"{RU}.ring_attention_utils": f"{T}.ring_attention_utils",
    f"{RU}.ring_attention_utils_fixed": f"{T}.ring_attention_utils_fixed",
    f"{RU}.ring_attention_fixed_deadlock": f"{T}.ring_attention_fixed_deadlock",
}

#: ``__all__`` of the old packages and modules that declared one (CATALOG §10-§12).
MODULE_ALL: dict[str, tuple[str, ...]] = {
    T: ("BlockSparseRingDilatedAttention", "SparsePatternConfig", "BlockSparseRingDistributedDilatedAttention",
        "DistributedSparseConfig", "DistributedSparsePattern", "BlockSparseRingMultiheadDilatedAttention",
        "BlockSparseAdaptive", "AdaptiveConfig", "ImportanceScorer", "AdaptiveSparsityTrainer",
        "create_block_sparse_attention", "get_block_sparse_preset", "create_adaptive_block_sparse",
        "create_multihead_block_sparse", "RingDilatedAttentionHilbertGPUOptimized", "DilatedAttention"),
    R: ("RingDilatedAttentionCorrect", "RingAttentionWrapper", "RingDilatedAttentionV3",
        "RingDilatedAttentionMemoryEfficient", "RingDilatedAttentionSDPA", "RingDilatedAttentionFixedSimple",
        "RingDistributedDilatedAttention", "RingDilatedAttentionHilbertCore",
        "RingDilatedAttentionHilbertOptimizedFixed", "RingDilatedAttentionHilbertProper",
        "RingDilatedAttentionHilbertGPUOptimized", "all_ring_pass", "split_by_rank", "RingAttentionFunction",
        "StableRingAccumulator", "memory_efficient_ring_attention", "RingDilatedAttention",
        "RingDilatedAttentionProduction"),
    RB: ("RingDilatedAttentionCorrect", "RingAttentionWrapper", "RingDilatedAttentionV3",
         "RingDilatedAttentionSDPA", "RingDilatedAttentionFixedSimple", "RingDilatedAttentionMemoryEfficient"),
    RH: ("RingDilatedAttentionHilbertProper", "RingDilatedAttentionHilbertGPUOptimized",
         "RingDilatedAttentionHilbertCore", "RingDilatedAttentionHilbertCoreFixed",
         "RingDilatedAttentionHilbertOptimizedCorrect", "RingDilatedAttentionHilbertOptimizedFixed",
         "RingDilatedAttentionHilbertOptimizedFixedV2"),
    RD: ("RingDistributedDilatedAttention",),
    RU: ("all_ring_pass", "split_by_rank", "RingCommunicator", "RingAttentionFunction", "ring_attention",
         "StableRingAccumulator", "memory_efficient_ring_attention"),
    f"{RU}.ring_attention_lse": ("StableRingAccumulator", "ring_pass_lse", "update_lse", "compute_lse_triton",
                                 "compute_lse", "compute_attention_with_lse"),
    f"{RU}.ring_attention_utils": ("exists", "all_ring_pass", "split_by_rank", "create_causal_mask"),
    f"{RU}.ring_attention_utils_fixed": ("safe_ring_pass", "safe_ring_pass_kv", "validate_tensor_for_ring_pass",
                                         "create_ring_groups", "get_memory_info", "RingCommunicator",
                                         "all_ring_pass"),
    S: ("BlockSparseRingDilatedAttention", "BlockSparseRingDilatedAttentionFixed",
        "BlockSparseRingDilatedAttentionHilbertPostPattern", "BlockSparseRingMultiheadDilatedAttention",
        "BlockSparseRingDistributedDilatedAttention", "BlockSparseAdaptive", "BlockSparseAdaptiveFixed",
        "AdaptiveConfig", "AdaptiveSparsityTrainer", "SparsePatternConfig", "create_block_sparse_attention",
        "create_multihead_block_sparse", "create_adaptive_block_sparse"),
    f"{S}.distributed_sparse_config": ("DistributedSparsePattern", "DistributedSparseConfig", "HAS_DEEPSPEED",
                                       "HAS_APEX"),
    f"{S}.sparse_pattern_generator": ("HierarchicalSparsePatternGenerator",),
    f"{S}.block_sparse_ring_distributed_dilated_attention": (
        "BlockSparseRingDistributedDilatedAttention", "DistributedSparseConfig", "DistributedSparsePattern",
        "HierarchicalSparsePatternGenerator"),
}


def _flat(paths: tuple[str, ...]) -> tuple[str, ...]:
    """Add the flat-layout twin of every path under a module of §15."""
    out = list(paths)
    for path in paths:
        module, _, name = path.rpartition(".")
        if module in FLAT_MODULES:
            twin = f"{FLAT_MODULES[module]}.{name}"
            if twin not in out:
                out.append(twin)
        elif path in FLAT_MODULES and FLAT_MODULES[path] not in out:  # a module entry
            out.append(FLAT_MODULES[path])
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Building blocks for parameters and rewrites

def _p(name: str, default: object = REQUIRED, role: str = "map", note: str = "",
       kind: str = "positional_or_keyword") -> Param:
    return Param(name, default, role, kind, note)  # type: ignore[arg-type]


KWARGS = _p("kwargs", role="ignored", kind="var_keyword")
_SNAKE = (("True", "'snake'"), ("False", "None"))
_CURVE_B = (("True", "ringlib.compat.curve_b"), ("False", "None"))
_LISTS = (Arg(source="segment_lengths"), Arg(source="dilation_rates"))

X_REGIONS_PARAMS = (
    _p("embed_dim"), _p("num_heads"), _p("segment_lengths"), _p("dilation_rates"), _p("dropout", 0.0),
    _p("bias", True), _p("use_hilbert", True, note="REGIONS ordering: 'snake' if True"),
    _p("device", None, note="None -> cuda if available"), _p("dtype", None, note="None -> bf16/fp16 on GPU, fp32 on CPU"),
)


def _mhda(pattern: str, pattern_args: tuple[Arg, ...] = _LISTS, *, embed: str = "embed_dim", heads: str = "num_heads",
          bias: Arg | None = Arg("bias", source="bias"), dropout: str | None = "dropout",
          output_dropout: bool = True, ordering: Arg | None = None, device: bool = True, safe: bool = True,
          reason: str = "") -> Rewrite:
    """A rewrite to ``ringlib.MultiheadDilatedAttention`` (x -> x, fused q/k/v projection)."""
    args = [Arg(source=embed), Arg(source=heads), Arg(value="<pattern>")]
    if bias is not None:
        args.append(bias)
    if dropout is not None:
        args.append(Arg("dropout", source=dropout))
        if output_dropout:
            args.append(Arg("output_dropout", source=dropout))
    if ordering is not None:
        args.append(ordering)
    if device:
        args += [Arg("device", source="device"), Arg("dtype", source="dtype")]
    return Rewrite("ringlib.MultiheadDilatedAttention", tuple(args), pattern, pattern_args, safe, reason)


def _da(pattern: str, pattern_args: tuple[Arg, ...] = _LISTS, *, extra: tuple[Arg, ...] = (), safe: bool = True,
        reason: str = "") -> Rewrite:
    """A rewrite to ``ringlib.DilatedAttention`` (q, k, v of (B, L, H, D))."""
    return Rewrite("ringlib.DilatedAttention", (Arg(value="<pattern>"), *extra), pattern, pattern_args, safe, reason)


_X_FORWARD = ("the old forward also took total_seq_len/need_weights/already_split and returned "
              "(out, None) with need_weights=True; the canonical forward is forward(x, *, is_causal)")
_QKV_FORWARD = ("the old forward took return_attention_weights and returned (out, info); the canonical "
                "forward is forward(q, k, v, *, is_causal)")
_NO_BACKWARD = Divergence(
    "backward: the old class always raised `RuntimeError: one of the variables needed for gradient computation "
    "has been modified by an inplace operation`; the shim's backward works", "old: no gradient at all")
_DTYPE_CAST = Divergence("fp32 input with half-precision parameters raised a dtype error; the shim casts the input "
                         "to the parameter dtype", "old: RuntimeError")


def _regions_intended(output_dropout: bool = True) -> Rewrite:
    return _mhda("ringlib.Dilated", output_dropout=output_dropout)


_REGIONS_INTENDED_DIV = Divergence(
    "--semantics intended uses LongNet dilated attention (ringlib.Dilated) instead of REGIONS",
    "REGIONS vs the old DilatedAttention 0.184-0.188 max-abs (L=1024, [256,512]/[1,2], H=8); REGIONS leaves "
    "positions after the last region at zero (25% of outputs at L=1024, [256,512])", "intended")
_FIRST_INTENDED_DIV = Divergence(
    "--semantics intended uses LongNet dilated attention (ringlib.Dilated) instead of FIRST_SEGMENT",
    "FIRST_SEGMENT leaves positions outside every index set at zero (384 of 1024 at L=1024, [256,512]/[1,2]) "
    "and halves positions selected by one of two pairs", "intended")
_BLOCK_SUM_INTENDED_DIV = Divergence(
    "--semantics intended uses one softmax per query row over its active blocks "
    "(BlockSparse normalization='softmax') instead of summing per-block softmaxes",
    "vs row-softmax masked attention: 0.99 local_window, 1.90 dilated_sparse, 1.87 global_local "
    "(seq 1024, H=8, D=32, bs 128); golden config (dilated_sparse, bs 64) 2.01", "intended")


def _block_sum_causal(size: str) -> Divergence:
    return Divergence("causal: the old 'diag-only' rule masked diagonal blocks only, so future blocks leaked; "
                      "the shim is token-correct", f"golden config, legacy vs token-correct: {size}")


def _e(name: str, section: str, family: str, paths: tuple[str, ...], numerics: str, profile: str, replacement: str,
       params: tuple[Param, ...] = (), preserve: Rewrite | None = None, intended: Rewrite | None = None,
       divs: tuple[Divergence, ...] = (), kind: str = "class", key: str | None = None,
       counted: bool = True) -> LegacyName:
    rewrites = {}
    if preserve is not None:
        rewrites["preserve"] = preserve
        rewrites["intended"] = intended or preserve
    return LegacyName(name, key or name, kind, family, section, _flat(paths), numerics, profile,  # type: ignore[arg-type]
                      replacement, params, rewrites, divs, counted)


def _companion(name: str, section: str, family: str, paths: tuple[str, ...], replacement: str,
               kind: str = "function", key: str | None = None, numerics: str = "preserve",
               profile: str = "helper") -> LegacyName:
    return _e(name, section, family, paths, numerics, profile, replacement, kind=kind, key=key, counted=False)


_REGIONS_X = "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.compat.Regions(segment_lengths, dilation_rates), ordering='snake')"
_MHDA_DENSE = "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.Dense())"
_RING_NOTE = "ring/distributed: pass group= to ringlib.attention (each rank its shard)"

_ENTRIES: list[LegacyName] = [
    # ---- ring/base (§7) -----------------------------------------------------------------------
    _e("RingDilatedAttentionCorrect", "7.1", "ring/base",
       (f"{R}.RingDilatedAttentionCorrect", f"{RB}.RingDilatedAttentionCorrect",
        f"{RB}.ring_dilated_attention_correct.RingDilatedAttentionCorrect",
        f"{R}.RingDilatedAttention", f"{R}.RingDilatedAttentionProduction"),
       "preserve", "REGIONS(snake iff use_hilbert)", _REGIONS_X, X_REGIONS_PARAMS,
       _mhda("ringlib.compat.Regions", ordering=Arg("ordering", source="use_hilbert", choose=_SNAKE,
                                                    omit_if_default=False), reason=_X_FORWARD),
       _regions_intended(),
       (Divergence("causal: the old class masked only residue class 0 of dilated regions, in snake order; "
                   "the shim is token-correct", "golden config, legacy vs token-correct: 0.93 max-abs; "
                   "L=1024 H=4 legacy snake on vs off under causal: 0.40"),
        _NO_BACKWARD,
        Divergence("distributed: the old class crashed (non-contiguous irecv); patched, it merged ring steps "
                   "without renormalisation and produced NaN outside every region; the shim is exact (SHARD)",
                   "0.139 off single process; NaN for 25% of outputs at L=1024"),
        _DTYPE_CAST, _REGIONS_INTENDED_DIV)),
    _e("RingAttentionWrapper", "7.2", "ring/base",
       (f"{R}.RingAttentionWrapper", f"{RB}.RingAttentionWrapper",
        f"{RB}.ring_dilated_attention_correct.RingAttentionWrapper"),
       "preserve", "REGIONS(snake iff use_hilbert)", _REGIONS_X + " (state_dict keys lose the 'attention.' prefix)",
       (_p("embed_dim"), _p("num_heads"), _p("segment_lengths"), _p("dilation_rates"),
        _p("kwargs", kind="var_keyword", note="dropout, bias, use_hilbert, device, dtype of RingDilatedAttentionCorrect")),
       _mhda("ringlib.compat.Regions", ordering=Arg("ordering", value="'snake'", omit_if_default=False),
             bias=None, dropout=None, device=False, safe=False,
             reason="state_dict keys carry an 'attention.' prefix and **kwargs are forwarded; migrate by hand "
                    "(strip the prefix when loading old checkpoints)"),
       _mhda("ringlib.Dilated", bias=None, dropout=None, device=False, safe=False,
             reason="state_dict keys carry an 'attention.' prefix"),
       (Divergence("causal leak of the old class is not reproduced (token-correct)",
                   "golden config, legacy vs token-correct: 0.93 max-abs"), _NO_BACKWARD,
        Divergence("distributed: contiguity crash in the old class; the shim is exact (SPLIT)", "old: RuntimeError"),
        _REGIONS_INTENDED_DIV)),
    _e("RingDilatedAttentionV3", "7.3", "ring/base",
       (f"{R}.RingDilatedAttentionV3", f"{RB}.RingDilatedAttentionV3",
        f"{RB}.ring_dilated_attention_v3.RingDilatedAttentionV3"),
       "preserve", "FIRST_SEGMENT(v3)",
       "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.compat.FirstSegment(segment_lengths, dilation_rates, variant='v3'))",
       (*X_REGIONS_PARAMS[:6], _p("use_hilbert", True, "ignored", "accepted, no effect"),
        _p("device", None, note="None -> cuda if available"), _p("dtype", None, note="None -> float32")),
       _mhda("ringlib.compat.FirstSegment", (*_LISTS, Arg("variant", value="'v3'", omit_if_default=False)),
             reason=_X_FORWARD),
       _regions_intended(),
       (Divergence("distributed: the old class applied the first-segment rule per shard and merged through the "
                   "broken RingAttentionFunction; the shim is exact on the global sequence",
                   "gathered vs single process 2.55 (W=2), 2.73 (W=4); causal 7.3e5"), _FIRST_INTENDED_DIV)),
    _e("RingDilatedAttentionSDPA", "7.4", "ring/base",
       (f"{R}.RingDilatedAttentionSDPA", f"{RB}.RingDilatedAttentionSDPA",
        f"{RB}.ring_dilated_attention_sdpa.RingDilatedAttentionSDPA"),
       "preserve", "FIRST_SEGMENT(sdpa)",
       "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.compat.FirstSegment(segment_lengths, dilation_rates, variant='sdpa'))",
       (*X_REGIONS_PARAMS[:6], _p("device", None, note="None -> cuda if available"),
        _p("dtype", None, note="None -> float16 on GPUs >= sm70, fp32 on CPU; input cast to it")),
       _mhda("ringlib.compat.FirstSegment", (*_LISTS, Arg("variant", value="'sdpa'", omit_if_default=False)),
             reason=_X_FORWARD),
       _regions_intended(),
       (Divergence("distributed: the old class averaged per-rank outputs with weight 1/W and lost remote K/V "
                   "gradients; the shim is exact", "0.061 (W=2), 0.123 (W=4) off single process"),
        _FIRST_INTENDED_DIV)),
    _e("RingDilatedAttentionFixedSimple", "7.5", "ring/base",
       (f"{R}.RingDilatedAttentionFixedSimple", f"{RB}.RingDilatedAttentionFixedSimple",
        f"{RB}.ring_dilated_attention_fixed_simple.RingDilatedAttentionFixedSimple"),
       "preserve", "DENSE(non-causal)", _MHDA_DENSE,
       (_p("embed_dim"), _p("num_heads"), _p("dropout", 0.0), _p("device", None, note="None -> cuda if available"),
        _p("dtype", None, note="None -> float32")),
       _mhda("ringlib.Dense", (), bias=None, reason=_X_FORWARD),
       None,
       (Divergence("distributed: the old class averaged per-chunk softmaxes; the shim is exact dense attention",
                   "2.3e-3 (W=2), 4.5e-3 (W=4) off dense"),)),
    _e("RingDilatedAttentionMemoryEfficient", "7.6", "ring/base",
       (f"{R}.RingDilatedAttentionMemoryEfficient", f"{RB}.RingDilatedAttentionMemoryEfficient",
        f"{RB}.ring_dilated_attention_memory_efficient.RingDilatedAttentionMemoryEfficient"),
       "preserve", "DENSE", _MHDA_DENSE,
       (_p("embed_dim"), _p("num_heads"), _p("segment_lengths", None, "ignored"), _p("dilation_rates", None, "ignored"),
        _p("dropout", 0.0), _p("bias", True), _p("device", None, note="None -> cuda if available"),
        _p("dtype", None, note="None -> float32")),
       _mhda("ringlib.Dense", (), reason=_X_FORWARD),
       None,
       (Divergence("distributed: the old memory_efficient_ring_attention was wrong and its backward returned "
                   "all-zero gradients; the shim is exact", "0.0996 (W=2), 0.111 (W=4) off single process; "
                   "causal 0.276; old gradients all zero"),)),
    # ---- ring/hilbert (§8) --------------------------------------------------------------------
    _e("RingDilatedAttentionHilbertProper", "8.1", "ring/hilbert",
       (f"{R}.RingDilatedAttentionHilbertProper", f"{RH}.RingDilatedAttentionHilbertProper",
        f"{RH}.ring_dilated_attention_hilbert_proper.RingDilatedAttentionHilbertProper"),
       "preserve", "REGIONS(snake iff use_hilbert)", _REGIONS_X,
       (*X_REGIONS_PARAMS[:6], _p("ring_size", None, note="> 1 means distributed over the default group"),
        _p("use_hilbert", True), _p("device", None, note="None -> PyTorch default"),
        _p("dtype", None, note="None -> PyTorch default")),
       _mhda("ringlib.compat.Regions", ordering=Arg("ordering", source="use_hilbert", choose=_SNAKE,
                                                    omit_if_default=False), reason=_X_FORWARD),
       _regions_intended(),
       (Divergence("causal: the old class masked region 0 only (later regions bidirectional), residue class 0 "
                   "only, in snake order; the shim is token-correct",
                   "golden config, legacy vs token-correct: 0.95 max-abs"),
        Divergence("distributed: the old class never returned (contiguity, then reshape crash); the shim is "
                   "exact (FULL)", "old: RuntimeError"), _REGIONS_INTENDED_DIV)),
    _e("RingDilatedAttentionHilbertGPUOptimized", "8.2", "ring/hilbert",
       (f"{T}.RingDilatedAttentionHilbertGPUOptimized", f"{R}.RingDilatedAttentionHilbertGPUOptimized",
        f"{RH}.RingDilatedAttentionHilbertGPUOptimized",
        f"{RH}.ring_dilated_attention_hilbert_gpu_optimized.RingDilatedAttentionHilbertGPUOptimized"),
       "preserve", "REGIONS(snake iff use_hilbert)", _REGIONS_X,
       (*X_REGIONS_PARAMS[:6], _p("ring_size", None), _p("use_hilbert", True),
        _p("device", None, note="None -> cuda if available"),
        _p("dtype", None, note="None -> bf16 on Ampere/Hopper, fp16 on Volta/Turing, fp32 on CPU; input cast"),
        _p("attention_backend", None, "ignored", "kernel hint, no effect on results"),
        _p("benchmark_backends", False, "ignored")),
       _mhda("ringlib.compat.Regions", ordering=Arg("ordering", source="use_hilbert", choose=_SNAKE,
                                                    omit_if_default=False), reason=_X_FORWARD),
       _regions_intended(),
       (Divergence("causal region-0 leak of the old class is not reproduced (token-correct)",
                   "golden config, legacy vs token-correct: 0.95 max-abs"),
        Divergence("the old flash/xformers backends silently dropped attention dropout (GPU only); the shim "
                   "applies it", "training mode only"), _REGIONS_INTENDED_DIV)),
    _e("RingDilatedAttentionHilbertCore", "8.3", "ring/hilbert",
       (f"{R}.RingDilatedAttentionHilbertCore", f"{RH}.RingDilatedAttentionHilbertCore",
        f"{RH}.ring_dilated_attention_hilbert_core.RingDilatedAttentionHilbertCore"),
       "preserve", "REGIONS(no ordering)",
       "ringlib.MultiheadDilatedAttention(dim, heads, ringlib.compat.Regions(segment_lengths, dilation_rates))",
       (_p("config", None, "unsupported", "duck-typed StandardizedRingConfig"), _p("dim", None, note="model width"),
        _p("heads", None), _p("segment_lengths", None, note="None -> [2048, 4096, 8192]"),
        _p("dilation_rates", None, note="None -> [1, 2, 4]"), _p("ring_size", None, "ignored"), _p("dropout", 0.0),
        _p("use_hilbert", True, "ignored", "no effect on results"), _p("use_custom_backward", True, "ignored"),
        KWARGS),
       _mhda("ringlib.compat.Regions", embed="dim", heads="heads", bias=None, device=False,
             reason=_X_FORWARD + "; the unused hilbert_core.* weights of old checkpoints must be dropped"),
       _mhda("ringlib.Dilated", embed="dim", heads="heads", bias=None, device=False,
             reason="the unused hilbert_core.* weights of old checkpoints must be dropped"),
       (_NO_BACKWARD,
        Divergence("causal: the old class masked only residue class 0 of dilated regions (and r=1 regions in "
                   "snake order); the shim is token-correct", "golden config, legacy vs token-correct: 1.18"),
        Divergence("distributed: contiguity crash; patched, 0.14-0.16 off where a region spans ranks and NaN "
                   "outside regions; the shim is exact (SPLIT/SHARD)", "old: RuntimeError"),
        _DTYPE_CAST, _REGIONS_INTENDED_DIV)),
    _e("RingDilatedAttentionHilbertCoreFixed", "8.7", "ring/hilbert",
       (f"{RH}.RingDilatedAttentionHilbertCoreFixed",
        f"{RH}.ring_dilated_attention_hilbert_core_fixed.RingDilatedAttentionHilbertCoreFixed"),
       "intended", "LONGNET(snake per segment iff use_hilbert)",
       "ringlib.DilatedAttention(ringlib.Dilated(segment_lengths, dilation_rates), ordering='snake')",
       (_p("config", None, "unsupported"), _p("dim", None, note="model width; sizes the unused weights"),
        _p("heads", None, "ignored"), _p("segment_lengths", None, note="None -> [2048, 4096, 8192]"),
        _p("dilation_rates", None, note="None -> [1, 2, 4]"), _p("ring_size", None, "ignored"),
        _p("dropout", 0.0), _p("use_hilbert", True), _p("use_custom_backward", True, "ignored"), KWARGS),
       _da("ringlib.Dilated", extra=(Arg("ordering", source="use_hilbert", choose=_SNAKE, omit_if_default=False),
                                     Arg("dropout", source="dropout")),
           reason=_QKV_FORWARD + "; the unused hilbert_modules.* weights of old checkpoints must be dropped"),
       None,
       (Divergence("the old class could not run on CPU (Triton), ignored k, v and is_causal, and its kernel was "
                   "not a softmax; the shim computes LongNet dilated attention",
                   "old kernel 0.018-0.18 off a correct softmax; old output not un-permuted"),)),
    _e("RingDilatedAttentionHilbertOptimizedCorrect", "8.4", "ring/hilbert",
       (f"{RH}.RingDilatedAttentionHilbertOptimizedCorrect",
        f"{RH}.ring_dilated_attention_hilbert_optimized_correct.RingDilatedAttentionHilbertOptimizedCorrect"),
       "preserve", "REGIONS(snake iff use_hilbert)", _REGIONS_X,
       (*X_REGIONS_PARAMS, _p("attention_backend", None, "ignored"), _p("benchmark_backends", False, "ignored"),
        _p("memory_efficient", True, note="True: SPLIT/SHARD when distributed; False: local")),
       _mhda("ringlib.compat.Regions", ordering=Arg("ordering", source="use_hilbert", choose=_SNAKE,
                                                    omit_if_default=False), reason=_X_FORWARD),
       _regions_intended(),
       (Divergence("backward: the old class raised the in-place RuntimeError whenever a rate > 1; the shim's "
                   "backward works", "old: no gradient"),
        Divergence("causal: residue class 0 only, in snake order; the shim is token-correct",
                   "golden config, legacy vs token-correct: 0.93 max-abs"),
        Divergence("distributed: 0.19-0.23 off for regions spanning ranks and NaN outside regions; the shim is "
                   "exact", "old: wrong or NaN"), _DTYPE_CAST, _REGIONS_INTENDED_DIV)),
    _e("RingDilatedAttentionHilbertOptimizedFixed", "8.5", "ring/hilbert",
       (f"{R}.RingDilatedAttentionHilbertOptimizedFixed", f"{RH}.RingDilatedAttentionHilbertOptimizedFixed",
        f"{RH}.ring_dilated_attention_hilbert_optimized_fixed.RingDilatedAttentionHilbertOptimizedFixed"),
       "preserve", "STRIDED_KEYS(scale dim**-0.5, curve_b iff use_hilbert)",
       "ringlib.DilatedAttention(ringlib.compat.StridedKeys(segment_lengths, dilation_rates), scale=dim ** -0.5, "
       "ordering=ringlib.compat.curve_b)",
       (_p("config", None, "unsupported"), _p("dim", None, note="only the softmax scale dim ** -0.5; None -> 64"),
        _p("heads", None, "ignored"), _p("segment_lengths", None), _p("dilation_rates", None),
        _p("ring_size", None, "ignored"), _p("dropout", 0.0), _p("use_hilbert", True),
        _p("hilbert_chunk_size", None, "ignored"), KWARGS),
       _da("ringlib.compat.StridedKeys",
           extra=(Arg("scale", template="{dim} ** -0.5", omit_if_default=False),
                  Arg("ordering", source="use_hilbert", choose=_CURVE_B, omit_if_default=False),
                  Arg("dropout", source="dropout")), reason=_QKV_FORWARD),
       _da("ringlib.Dilated", extra=(Arg("dropout", source="dropout"),), reason=_QKV_FORWARD),
       (Divergence("the old class applied CURVE_B where it is not a permutation (broken inverse); the shim uses "
                   "the identity for those tiles", "0.62 max-abs at L=100, 0.32 at L=768 (even with rate 1)"),
        Divergence("causal: the old class masked in permuted tile order; the shim is token-correct",
                   "golden config, legacy vs token-correct: 3.22"),
        Divergence("--semantics intended uses LongNet dilated attention with scale head_dim ** -0.5",
                   "STRIDED_KEYS vs dense 0.125, vs the old DilatedAttention 0.190 (L=1024, H=8); scale dim**-0.5 "
                   "vs head_dim**-0.5: 0.79 on the golden config", "intended"))),
    _e("RingDilatedAttentionHilbertOptimizedFixedV2", "8.6", "ring/hilbert",
       (f"{RH}.RingDilatedAttentionHilbertOptimizedFixedV2",
        f"{RH}.ring_dilated_attention_hilbert_optimized_fixed_v2.RingDilatedAttentionHilbertOptimizedFixedV2"),
       "preserve", "DENSE", _MHDA_DENSE + " (old default dropout 0.1)",
       (_p("embed_dim"), _p("num_heads"), _p("segment_lengths", role="ignored"), _p("dilation_rates", role="ignored"),
        _p("dropout", 0.1, note="default 0.1"), _p("use_hilbert", True, "ignored"), _p("bias", True),
        _p("device", None, note="None -> cuda if available"), _p("dtype", None, note="None -> float32"),
        _p("attention_backend", None, "ignored"), _p("memory_efficient", True)),
       _mhda("ringlib.Dense", (), reason=_X_FORWARD),
       None,
       (Divergence("distributed: the old class multiplied per-chunk attention by the segment count and merged "
                   "un-normalised (IndexError when every segment exceeded L/W); the shim is exact dense",
                   "0.44 off single process"),)),
    # ---- ring/distributed (§9) ----------------------------------------------------------------
    _e("RingDistributedDilatedAttention", "9.1", "ring/distributed",
       (f"{R}.RingDistributedDilatedAttention", f"{RD}.RingDistributedDilatedAttention",
        f"{RD}.ring_distributed_dilated_attention.RingDistributedDilatedAttention",
        f"{S}.block_sparse_ring_distributed_dilated_attention.RingDistributedDilatedAttention"),
       "intended", "LONGNET multihead (exact ring)",
       "ringlib.DilatedAttention(ringlib.Dilated(segment_lengths, dilation_rates)) between your own q/k/v/out "
       "projections (group= for ring attention)",
       (_p("embed_dim"), _p("num_heads"), _p("segment_lengths"), _p("dilation_rates"), _p("dropout", 0.0),
        _p("bias", True), _p("layer_norm", True), _p("layer_norm_eps", 1e-05), _p("gamma_init", 1.0),
        *(_p(n, d, "ignored") for n, d in (
            ("block_size", 1024), ("ring_size", None), ("use_checkpointing", True), ("model_parallel", False),
            ("sequence_parallel", True), ("data_parallel", True), ("use_deepspeed", True), ("zero_stage", 3),
            ("cpu_offload", False), ("nvme_offload", False), ("use_8bit_optimizer", False),
            ("use_gradient_compression", False), ("activation_checkpointing", True),
            ("communication_backend", "nccl"), ("bucket_size", 25), ("overlap_communication", True),
            ("enable_fault_tolerance", True), ("checkpoint_interval", 1000), ("auto_resume", True),
            ("enable_monitoring", True), ("profile_memory", False), ("log_level", "INFO"), ("use_tf32", True),
            ("use_flash_attention", True), ("compile_model", False))),
        _p("device", None), _p("dtype", None)),
       _da("ringlib.Dilated", extra=(Arg("dropout", source="dropout"),), safe=False,
           reason="query/key/value (B, L, E) with a MAGNETO sub-LayerNorm and a (out, None) return: migrate by hand"),
       None,
       (Divergence("the old constructor always raised `ValueError: Unknown attention type 'improved'`; the shim "
                   "builds LongNet multihead attention", "old: not constructible"),)),
    # ---- ring/utils (§10) ---------------------------------------------------------------------
    _e("RingAttentionFunction", "10.1", "ring/utils",
       (f"{R}.RingAttentionFunction", f"{RU}.RingAttentionFunction",
        f"{RU}.ring_attention_autograd.RingAttentionFunction"),
       "intended", "EXACT",
       "ringlib.attention(q, k, v, ringlib.Dense(), causal=..., scale=..., group=...) with (B, L, H, D) tensors",
       divs=(Divergence("the old forward was not attention (divided by clamp(LSE)) and its backward did not match "
                        "its forward; the shim is exact softmax attention",
                        "single process 2.03 off dense (causal 2.3e6); W=2 2.27, W=4 1.85; old dq 2.6 off"),)),
    _e("MemoryEfficientRingAttentionFunction", "10.2", "ring/utils",
       (f"{RU}.ring_attention_memory_efficient.MemoryEfficientRingAttentionFunction",),
       "intended", "EXACT(recompute in backward)",
       "ringlib.attention(q, k, v, ringlib.Dense(), causal=..., scale=..., group=...) with (B, L, H, D) tensors",
       divs=(Divergence("the old forward divided by exp(LSE) of max-shifted scores and its backward returned "
                        "zeros; the shim is exact", "0.73 off dense (causal 2.03), W=2 0.496; old gradients zero"),)),
    _e("StableRingAccumulator", "10.3", "ring/utils",
       (f"{R}.StableRingAccumulator", f"{RU}.StableRingAccumulator", f"{RU}.ring_attention_lse.StableRingAccumulator",
        f"{RH}.ring_dilated_attention_hilbert_core_fixed.StableRingAccumulator"),
       "intended", "LSE_MERGE", "ringlib.lse.merge(o_a, lse_a, o_b, lse_b)",
       divs=(Divergence("the old update added the new chunk unweighted; the shim merges by log-sum-exp",
                        "0.46 off full attention with two chunks"),)),
    # ---- sparse (§11) -------------------------------------------------------------------------
    _e("BlockSparseRingDistributedDilatedAttention", "11.8", "sparse",
       (f"{T}.BlockSparseRingDistributedDilatedAttention", f"{S}.BlockSparseRingDistributedDilatedAttention",
        f"{S}.block_sparse_ring_distributed_dilated_attention.BlockSparseRingDistributedDilatedAttention",
        f"{S}.block_sparse_factory.BlockSparseRingDistributedDilatedAttention"),
       "intended", "BLOCK_ROW(HIERARCHICAL pattern, exact)",
       "ringlib.DilatedAttention(ringlib.BlockSparse(layout, block_size=distributed_config.block_size))",
       (_p("embed_dim"), _p("num_heads"), _p("segment_lengths", role="ignored"), _p("dilation_rates", role="ignored"),
        _p("distributed_config", None, "unsupported"), _p("enable_deepspeed_integration", True, "ignored"),
        _p("enable_apex_optimization", True, "ignored"), _p("monitoring_interval", 100, "ignored"), KWARGS,
        _p("pattern_seed", None, kind="keyword_only", note="shim extension: seed of the pattern generator")),
       _da("ringlib.BlockSparse", (), safe=False,
           reason="the hierarchical random layout comes from distributed_config and pattern_seed: migrate by hand"),
       None,
       (Divergence("the old constructor always raised `ValueError: Unknown attention type 'improved'`; worked "
                   "around, it summed per-block softmaxes with level weights, leaked future tokens and had no "
                   "communication; the shim is exact row-softmax block-sparse attention",
                   "old 0.80 off masked attention over its own mask"),)),
    _e("BlockSparseRingDilatedAttention", "11.2", "sparse",
       (f"{T}.BlockSparseRingDilatedAttention", f"{S}.BlockSparseRingDilatedAttention",
        f"{S}.block_sparse_ring_dilated_attention.BlockSparseRingDilatedAttention",
        f"{S}.block_sparse_ring_dilated_attention_fixed.BlockSparseRingDilatedAttention",
        f"{S}.block_sparse_ring_dilated_attention_hilbert_post_pattern.BlockSparseRingDilatedAttention",
        f"{S}.block_sparse_ring_multihead_dilated_attention.BlockSparseRingDilatedAttention",
        f"{S}.block_sparse_adaptive.BlockSparseRingDilatedAttention",
        f"{S}.block_sparse_factory.BlockSparseRingDilatedAttention"),
       "preserve", "BLOCK_SUM(config pattern)",
       "ringlib.DilatedAttention(ringlib.BlockSparse(pattern_type, block_size=..., normalization='per_block_sum'))",
       (_p("segment_lengths", role="ignored"), _p("dilation_rates", role="ignored"),
        _p("sparse_config", None, "unsupported", "SparsePatternConfig -> the BlockSparse layout"),
        _p("enable_batched_ops", True, "ignored"), _p("pattern_cache_size", 100, "ignored"), KWARGS),
       _da("ringlib.BlockSparse", (), safe=False,
           reason="the layout comes from a SparsePatternConfig object: migrate by hand"),
       _da("ringlib.BlockSparse", (), safe=False, reason="the layout comes from a SparsePatternConfig object"),
       (_block_sum_causal("6.01 (includes the old batched-path bug for batch > 1 with > 32 pairs)"),
        Divergence("the old pattern cache ignored window_size/global_tokens/dilation_rates (stale patterns after "
                   "mutating a config); the shim always follows the current config", "stale pattern"),
        _BLOCK_SUM_INTENDED_DIV)),
    _e("BlockSparseRingDilatedAttentionFixed", "11.3", "sparse",
       (f"{S}.BlockSparseRingDilatedAttentionFixed",
        f"{S}.block_sparse_ring_dilated_attention_fixed.BlockSparseRingDilatedAttentionFixed"),
       "preserve", "BLOCK_SUM(local_window, bs 64, window 256)",
       "ringlib.DilatedAttention(ringlib.BlockSparse('local_window', block_size=64, normalization='per_block_sum'))",
       (_p("config", None, "unsupported"), _p("dim", None, "ignored"), _p("heads", None, "ignored"),
        _p("segment_lengths", None, "ignored"), _p("dilation_rates", None, "ignored"), _p("ring_size", None, "ignored"),
        _p("dropout", 0.0, "ignored", "validated, never applied"),
        _p("sparse_pattern_config", None, "ignored", "always local_window / 64 / 256"),
        _p("sparsity_ratio", None, "ignored"), _p("block_size", None, "ignored"), KWARGS),
       _da("ringlib.BlockSparse", (Arg(value="'local_window'"), Arg("block_size", value="64"),
                                   Arg("normalization", value="'per_block_sum'")), reason=_QKV_FORWARD),
       _da("ringlib.BlockSparse", (Arg(value="'local_window'"), Arg("block_size", value="64")), reason=_QKV_FORWARD),
       (_block_sum_causal("4.0"), _BLOCK_SUM_INTENDED_DIV)),
    _e("BlockSparseRingDilatedAttentionHilbertPostPattern", "11.4", "sparse",
       (f"{S}.BlockSparseRingDilatedAttentionHilbertPostPattern",
        f"{S}.block_sparse_ring_dilated_attention_hilbert_post_pattern.BlockSparseRingDilatedAttentionHilbertPostPattern"),
       "preserve", "BLOCK_SUM(config pattern; zero tail if L % bs != 0)",
       "ringlib.DilatedAttention(ringlib.BlockSparse(pattern_type, block_size=..., normalization='per_block_sum'))",
       (_p("segment_lengths", role="ignored"), _p("dilation_rates", role="ignored"),
        _p("sparse_config", role="unsupported"), _p("use_post_pattern_optimization", True, "ignored"),
        _p("cache_orderings", True, "ignored"), KWARGS),
       _da("ringlib.BlockSparse", (), safe=False, reason="the layout comes from a SparsePatternConfig object"),
       None,
       (_block_sum_causal("5.55"),
        Divergence("L % block_size != 0 with > 32 pairs raised a reshape RuntimeError; the shim outputs zeros "
                   "for the tail in all cases", "old: RuntimeError"), _BLOCK_SUM_INTENDED_DIV)),
    _e("BlockSparseRingMultiheadDilatedAttention", "11.5", "sparse",
       (f"{T}.BlockSparseRingMultiheadDilatedAttention", f"{S}.BlockSparseRingMultiheadDilatedAttention",
        f"{S}.block_sparse_ring_multihead_dilated_attention.BlockSparseRingMultiheadDilatedAttention",
        f"{S}.block_sparse_factory.BlockSparseRingMultiheadDilatedAttention"),
       "preserve", "BLOCK_SUM inside q/k/v/out projections",
       "separate q/k/v/out nn.Linear projections around ringlib.DilatedAttention(ringlib.BlockSparse(..., "
       "normalization='per_block_sum'))",
       (_p("embed_dim"), _p("num_heads"), _p("segment_lengths", role="ignored"), _p("dilation_rates", role="ignored"),
        _p("dropout", 0.0, note="output dropout only"), _p("bias", True), _p("sparse_config", None, "unsupported"),
        _p("batch_first", True), KWARGS),
       _da("ringlib.BlockSparse", (), safe=False,
           reason="separate q/k/v projections and query/key/value inputs: migrate by hand"),
       None,
       (_block_sum_causal("1.45"), _BLOCK_SUM_INTENDED_DIV)),
    _e("BlockSparseAdaptive", "11.6", "sparse",
       (f"{T}.BlockSparseAdaptive", f"{S}.BlockSparseAdaptive", f"{S}.block_sparse_adaptive.BlockSparseAdaptive",
        f"{S}.block_sparse_adaptive_fixed._BlockSparseAdaptiveOriginal"),
       "preserve", "BLOCK_SUM with SELECT_ADAPTIVE",
       "ringlib.AdaptiveBlockSparseAttention (loads the old state_dict keys)",
       (_p("segment_lengths", role="ignored"), _p("dilation_rates", role="ignored"), _p("num_heads"), _p("head_dim"),
        _p("adaptive_config", None, "unsupported"), KWARGS),
       Rewrite("ringlib.AdaptiveBlockSparseAttention", safe=False, reason="adaptive selector: migrate by hand"),
       None,
       (_block_sum_causal("1.77 (top-k freely picked future blocks)"),)),
    _e("BlockSparseAdaptiveFixed", "11.6", "sparse",
       (f"{S}.BlockSparseAdaptiveFixed", f"{S}.block_sparse_adaptive_fixed.BlockSparseAdaptive",
        f"{S}.block_sparse_factory.BlockSparseAdaptive"),
       "preserve", "BLOCK_SUM with SELECT_ADAPTIVE (lazy; block size from kwargs or 64)",
       "ringlib.AdaptiveBlockSparseAttention (loads the old state_dict keys)",
       (_p("segment_lengths", role="ignored"), _p("dilation_rates", role="ignored"),
        _p("sparse_config", None, "ignored", "its block size is replaced by 64"),
        _p("adaptive_config", None, "unsupported"), KWARGS),
       Rewrite("ringlib.AdaptiveBlockSparseAttention", safe=False, reason="adaptive selector: migrate by hand"),
       None,
       (_block_sum_causal("1.77"),
        Divergence("the old lazy init reset training=True (a module put in eval() before its first forward ran "
                   "with random Gumbel patterns); the shim honours the mode", "random vs deterministic pattern"),
        Divergence("loading a checkpoint into a fresh instance failed (`Unexpected key(s)`); the shim "
                   "materialises the parameters from the checkpoint", "old: RuntimeError"))),
]

_DENSE_FN = "ringlib.attention(q, k, v, ringlib.Dense(), group=...) with (B, L, H, D) tensors"
_PASS = "torch.distributed.batch_isend_irecv (ringlib.attention(..., group=...) does the ring passes itself)"
_UTILS = f"{RU}.ring_attention_utils"
_UTILS_FIXED = f"{RU}.ring_attention_utils_fixed"
_LSE = f"{RU}.ring_attention_lse"
_DEADLOCK = f"{RU}.ring_attention_fixed_deadlock"
_HP, _HG, _HC, _HCF, _HOC, _HV2 = (f"{RH}.ring_dilated_attention_hilbert_{s}" for s in (
    "proper", "gpu_optimized", "core", "core_fixed", "optimized_correct", "optimized_fixed_v2"))
_ADA, _ADAF, _FAC = f"{S}.block_sparse_adaptive", f"{S}.block_sparse_adaptive_fixed", f"{S}.block_sparse_factory"
_DSC, _SPG = f"{S}.distributed_sparse_config", f"{S}.sparse_pattern_generator"
_BSRD = f"{S}.block_sparse_ring_distributed_dilated_attention"
_POST = f"{S}.block_sparse_ring_dilated_attention_hilbert_post_pattern"

_COMPANIONS: list[LegacyName] = [
    _e("DilatedAttention", "DESIGN", "dilated", (f"{T}.DilatedAttention", f"{T}.dilated_attention.DilatedAttention"),
       "preserve", "Dilated(mixing='head_groups')",
       "ringlib.DilatedAttention(ringlib.Dilated(segment_lengths, dilation_rates, mixing='head_groups'))",
       (_p("segment_lengths"), _p("dilation_rates"), _p("softmax_scale", None), _p("attention_dropout", 0.0),
        _p("op", None, "ignored"), _p("enable_memory_pool", True, "ignored"), _p("enable_profiling", False, "ignored"),
        _p("lightweight_pool", True, "ignored"), KWARGS),
       _da("ringlib.Dilated", (*_LISTS, Arg("mixing", value="'head_groups'", omit_if_default=False)),
           extra=(Arg("scale", source="softmax_scale"), Arg("dropout", source="attention_dropout"))),
       _da("ringlib.Dilated", extra=(Arg("scale", source="softmax_scale"), Arg("dropout", source="attention_dropout"))),
       (Divergence("--semantics intended mixes the pairs by log-sum-exp with per-head offsets (LongNet) instead "
                   "of head groups divided by the group count", "different semantics (not a bug fix)",
                   "intended"),), counted=False),
    _companion("ring_attention", "10.1", "ring/utils",
               (f"{RU}.ring_attention", f"{RU}.ring_attention_autograd.ring_attention",
                f"{RB}.ring_dilated_attention_v3.ring_attention"), _DENSE_FN, numerics="intended", profile="EXACT"),
    _companion("memory_efficient_ring_attention", "10.2", "ring/utils",
               (f"{R}.memory_efficient_ring_attention", f"{RU}.memory_efficient_ring_attention",
                f"{RU}.ring_attention_memory_efficient.memory_efficient_ring_attention",
                f"{RB}.ring_dilated_attention_memory_efficient.memory_efficient_ring_attention"),
               _DENSE_FN, numerics="intended", profile="EXACT"),
    _companion("ring_pass_kv", "10.1.1", "ring/utils", (f"{RU}.ring_attention_autograd.ring_pass_kv",), _PASS),
    _companion("ring_pass_gradients", "10.1.1", "ring/utils", (f"{RU}.ring_attention_autograd.ring_pass_gradients",),
               _PASS),
    _companion("ring_pass_kv_safe", "10.2", "ring/utils", (f"{RU}.ring_attention_memory_efficient.ring_pass_kv_safe",),
               _PASS),
    _companion("ring_pass_kv_safe", "7.4", "ring/base", (f"{RB}.ring_dilated_attention_sdpa.ring_pass_kv_safe",),
               _PASS, key="ring_pass_kv_safe@sdpa"),
    _companion("safe_ring_pass", "7.5", "ring/base", (f"{RB}.ring_dilated_attention_fixed_simple.safe_ring_pass",),
               _PASS, key="safe_ring_pass@fixed_simple"),
    _companion("ring_pass_forward", "7.1", "ring/base",
               (f"{RB}.ring_dilated_attention_correct.ring_pass_forward", f"{_HC}.ring_pass_forward",
                f"{_HOC}.ring_pass_forward"), _PASS),
    _companion("StableAttentionAccumulator", "8", "ring/hilbert",
               tuple(f"{m}.StableAttentionAccumulator" for m in (_HP, _HC, _HOC, _HV2, _HG)),
               "ringlib.lse.merge", kind="class", numerics="intended", profile="LSE_MERGE"),
    _companion("ring_attention_lse", "10.3", "ring/utils", (_LSE,), "ringlib.lse", kind="module"),
    *(_companion(n, "10.3", "ring/utils", (f"{_LSE}.{n}",), r) for n, r in (
        ("update_lse", "torch.logaddexp"), ("compute_lse", "torch.logsumexp"), ("compute_lse_triton", "torch.logsumexp"),
        ("compute_attention_with_lse", "ringlib.attention (the log-sum-exp is internal)"),
        ("ring_pass_lse", "nothing (it was an identity placeholder)"))),
    _companion("ring_attention_utils", "10.4", "ring/utils", (_UTILS,), "ringlib.ring helpers", kind="module"),
    _companion("exists", "10.4", "ring/utils", (f"{_UTILS}.exists",), "`x is not None`"),
    _companion("create_causal_mask", "10.4", "ring/utils", (f"{_UTILS}.create_causal_mask",),
               "ringlib.attention(..., causal=True)"),
    _companion("all_ring_pass", "10.4", "ring/utils",
               (f"{R}.all_ring_pass", f"{RU}.all_ring_pass", f"{_UTILS}.all_ring_pass", f"{_HP}.all_ring_pass",
                f"{_HG}.all_ring_pass", f"{_HCF}.all_ring_pass"), _PASS),
    _companion("split_by_rank", "10.4", "ring/utils",
               (f"{R}.split_by_rank", f"{RU}.split_by_rank", f"{_UTILS}.split_by_rank", f"{_HP}.split_by_rank",
                f"{_HG}.split_by_rank", f"{_HCF}.split_by_rank"), "ringlib.shard_sequence"),
    _companion("ring_attention_utils_fixed", "10.5", "ring/utils", (_UTILS_FIXED,), "ringlib.ring helpers",
               kind="module"),
    _companion("safe_ring_pass", "10.5", "ring/utils", (f"{_UTILS_FIXED}.safe_ring_pass",), _PASS),
    _companion("safe_ring_pass_kv", "10.5", "ring/utils", (f"{_UTILS_FIXED}.safe_ring_pass_kv",), _PASS),
    _companion("validate_tensor_for_ring_pass", "10.5", "ring/utils",
               (f"{_UTILS_FIXED}.validate_tensor_for_ring_pass",), "nothing (ringlib validates its inputs)"),
    _companion("create_ring_groups", "10.5", "ring/utils", (f"{_UTILS_FIXED}.create_ring_groups",),
               "torch.distributed.group.WORLD"),
    _companion("get_memory_info", "10.5", "ring/utils", (f"{_UTILS_FIXED}.get_memory_info", f"{_HV2}.get_memory_info"),
               "torch.cuda.memory_allocated / memory_reserved"),
    _companion("RingCommunicator", "10.5", "ring/utils",
               (f"{_UTILS_FIXED}.RingCommunicator", f"{RU}.RingCommunicator", f"{_HV2}.RingCommunicator"), _PASS,
               kind="class"),
    _companion("all_ring_pass", "10.5", "ring/utils", (f"{_UTILS_FIXED}.all_ring_pass",), _PASS,
               key="all_ring_pass@fixed"),
    _companion("ring_attention_fixed_deadlock", "10.6", "ring/utils", (_DEADLOCK,), "ringlib.ring helpers",
               kind="module"),
    _companion("ring_pass_kv_no_deadlock", "10.6", "ring/utils", (f"{_DEADLOCK}.ring_pass_kv_no_deadlock",), _PASS),
    _companion("test_ring_communication", "10.6", "ring/utils", (f"{_DEADLOCK}.test_ring_communication",),
               "nothing (a smoke test)"),
    _companion("SparsePatternConfig", "11.1", "sparse",
               (f"{T}.SparsePatternConfig", f"{S}.SparsePatternConfig",
                *(f"{S}.{m}.SparsePatternConfig" for m in (
                    "block_sparse_ring_dilated_attention", "block_sparse_ring_dilated_attention_fixed",
                    "block_sparse_ring_dilated_attention_hilbert_post_pattern",
                    "block_sparse_ring_multihead_dilated_attention", "block_sparse_adaptive",
                    "block_sparse_adaptive_fixed", "block_sparse_factory"))),
               "ringlib.BlockSparse(pattern_type, block_size=...)", kind="dataclass"),
    _companion("AdaptiveConfig", "11.6", "sparse",
               (f"{T}.AdaptiveConfig", f"{S}.AdaptiveConfig", f"{_ADA}.AdaptiveConfig", f"{_ADAF}.AdaptiveConfig",
                f"{_FAC}.AdaptiveConfig"), "ringlib.AdaptiveBlockSparseAttention arguments", kind="dataclass"),
    _companion("ImportanceScorer", "11.6", "sparse", (f"{T}.ImportanceScorer", f"{_ADA}.ImportanceScorer"),
               "ringlib.AdaptiveBlockSparseAttention", kind="class"),
    _companion("AdaptiveSparsityTrainer", "11.6", "sparse",
               (f"{T}.AdaptiveSparsityTrainer", f"{S}.AdaptiveSparsityTrainer", f"{_ADA}.AdaptiveSparsityTrainer"),
               "a temperature schedule in your training loop", kind="class"),
    _companion("create_adaptive_block_sparse", "11.6", "sparse", (f"{_ADA}.create_adaptive_block_sparse",),
               "ringlib.AdaptiveBlockSparseAttention", key="create_adaptive_block_sparse@adaptive"),
    _companion("create_adaptive_block_sparse_consistent", "11.6", "sparse",
               (f"{_ADAF}.create_adaptive_block_sparse_consistent",), "ringlib.AdaptiveBlockSparseAttention"),
    _companion("DistributedSparseConfig", "11.7", "sparse",
               (f"{T}.DistributedSparseConfig", f"{_BSRD}.DistributedSparseConfig", f"{_DSC}.DistributedSparseConfig",
                f"{_SPG}.DistributedSparseConfig", f"{_FAC}.DistributedSparseConfig"),
               "ringlib.BlockSparse(layout, block_size=...)", kind="dataclass"),
    _companion("DistributedSparsePattern", "11.7", "sparse",
               (f"{T}.DistributedSparsePattern", f"{_BSRD}.DistributedSparsePattern", f"{_DSC}.DistributedSparsePattern"),
               "ringlib.BlockSparse(layout)", kind="enum"),
    _companion("HAS_DEEPSPEED", "11.7", "sparse", (f"{_DSC}.HAS_DEEPSPEED",), "importlib.util.find_spec('deepspeed')",
               kind="object"),
    _companion("HAS_APEX", "11.7", "sparse", (f"{_DSC}.HAS_APEX",), "importlib.util.find_spec('apex')", kind="object"),
    _companion("HierarchicalSparsePatternGenerator", "11.7", "sparse",
               (f"{_SPG}.HierarchicalSparsePatternGenerator", f"{_BSRD}.HierarchicalSparsePatternGenerator"),
               "ringlib.BlockSparse(layout) with your own layout", kind="class"),
    _companion("create_block_sparse_attention", "11.9", "sparse",
               (f"{T}.create_block_sparse_attention", f"{S}.create_block_sparse_attention",
                f"{_FAC}.create_block_sparse_attention"), "ringlib.DilatedAttention(ringlib.BlockSparse(...))"),
    _companion("create_adaptive_block_sparse", "11.9", "sparse",
               (f"{T}.create_adaptive_block_sparse", f"{S}.create_adaptive_block_sparse",
                f"{_FAC}.create_adaptive_block_sparse"), "ringlib.AdaptiveBlockSparseAttention"),
    _companion("create_multihead_block_sparse", "11.9", "sparse",
               (f"{T}.create_multihead_block_sparse", f"{S}.create_multihead_block_sparse",
                f"{_FAC}.create_multihead_block_sparse"),
               "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.BlockSparse(...))"),
    _companion("get_block_sparse_preset", "11.9", "sparse",
               (f"{T}.get_block_sparse_preset", f"{_FAC}.get_block_sparse_preset"),
               "ringlib.DilatedAttention(ringlib.BlockSparse(...))"),
    _companion("BlockSparseVariant", "11.9", "sparse", (f"{_FAC}.BlockSparseVariant",), "a str", kind="object"),
    _companion("PostPatternHilbertOptimizer", "11.4", "sparse", (f"{_POST}.PostPatternHilbertOptimizer",),
               "nothing (pair order does not change results)", kind="class"),
    _companion("create_post_pattern_hilbert_attention", "11.4", "sparse",
               (f"{_POST}.create_post_pattern_hilbert_attention",),
               "ringlib.DilatedAttention(ringlib.BlockSparse(..., normalization='per_block_sum'))"),
]

#: All entries: the 24 counted names first (catalog order), then the companions.
LEGACY_NAMES: tuple[LegacyName, ...] = (*_ENTRIES, *_COMPANIONS)

_REMOVED_TOP = {
    "LongNet": "a stack of ringlib.MultiheadDilatedAttention layers",
    "MultiheadDilatedAttention": "ringlib.MultiheadDilatedAttention",
    "ImprovedDilatedAttention": "ringlib.DilatedAttention(ringlib.Dilated(...))",
    "ImprovedMultiheadDilatedAttention": "ringlib.MultiheadDilatedAttention",
    "DistributedImprovedDilatedAttention": "ringlib.DilatedAttention(ringlib.Dilated(...)) with ringlib.attention(..., group=...)",
    "DistributedImprovedMultiheadDilatedAttention": "ringlib.MultiheadDilatedAttention with ringlib.attention(..., group=...)",
    "DilatedTransformerEncoderLayer": "your own layer around ringlib.MultiheadDilatedAttention",
    "DilatedTransformerDecoderLayer": "your own layer around ringlib.MultiheadDilatedAttention",
    "BlockSparseOptimized": "ringlib.DilatedAttention(ringlib.BlockSparse(...))",
    "BlockSparseTorchSparse": "ringlib.DilatedAttention(ringlib.BlockSparse(...))",
    "RingDilatedAttentionV2": "ringlib.MultiheadDilatedAttention(..., ringlib.Dilated(...)) and ringlib.attention(..., group=...)",
    "RingAttentionConfig": "ringlib.MultiheadDilatedAttention arguments",
    "create_production_ring_attention": "ringlib.MultiheadDilatedAttention",
    "PatternConfig": "ringlib.BlockSparse(...)",
    "PatternOptimizer": "ringlib.BlockSparse(...)",
    "PatternQualityAnalyzer": "ringlib.BlockSparse(...)",
    "PatternType": "ringlib.BlockSparse(...)",
    "SparsePatternGenerator": "ringlib.BlockSparse(layout)",
    "create_dilated_attention": "ringlib.DilatedAttention(ringlib.Dilated(...))",
    "create_multihead_dilated_attention": "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.Dilated(...))",
    "create_adaptive_sparse_attention": "ringlib.AdaptiveBlockSparseAttention",
    "RingDilatedAttention": "dilated_attention_pytorch.ring.RingDilatedAttention (only there) or ringlib.MultiheadDilatedAttention",
    "RingDilatedAttentionProduction": "dilated_attention_pytorch.ring.RingDilatedAttentionProduction (only there) or ringlib.MultiheadDilatedAttention",
}

_REMOVED_MODULES = {
    "ring_dilated_attention_v2_collective": "ringlib.MultiheadDilatedAttention with group=",
    "ring_dilated_attention_production": "dilated_attention_pytorch.ring.RingDilatedAttentionProduction",
    "ring_dilated_attention_v2": "ringlib.MultiheadDilatedAttention",
    "improved_dilated_attention": "ringlib.DilatedAttention(ringlib.Dilated(...))",
    "improved_dilated_attention_v2": "ringlib.DilatedAttention(ringlib.Dilated(...))",
    "improved_multihead_dilated_attention": "ringlib.MultiheadDilatedAttention",
    "multihead_dilated_attention": "ringlib.MultiheadDilatedAttention",
    "long_net": "ringlib.MultiheadDilatedAttention",
    "core": "ringlib",
    "utils": "ringlib",
}

#: Old public names and modules that are not carried over (CATALOG §15 end; issue 5 item 6).
REMOVED: tuple[Removed, ...] = (
    *(Removed(f"{T}.{n}", r) for n, r in _REMOVED_TOP.items()),
    *(Removed(f"{T}.{m}", r, "module") for m, r in _REMOVED_MODULES.items()),
)
from ringlib.registry_infra import ROWS as _ROWS  # noqa: E402 - rows of core/, utils/, kernels/ (issue 16)
LEGACY_NAMES, REMOVED = (*LEGACY_NAMES, *(r for r in _ROWS if isinstance(r, LegacyName))), tuple(r for r in (*REMOVED, *(r for r in _ROWS if isinstance(r, Removed))) if r.path not in {p for e in _ROWS if isinstance(e, LegacyName) for p in e.paths})
#: Prefixes of flat module names removed before 0.2 (e.g. ``ring_dilated_attention_hybrid_*``).
REMOVED_MODULE_PREFIXES: tuple[str, ...] = (
    f"{T}.ring_dilated_attention_hybrid", f"{T}.ring_dilated_attention_v2", f"{T}.improved_",
    f"{T}.ring_multihead_dilated_attention", f"{T}.head_parallel_dilated_attention",
)


# ---------------------------------------------------------------------------------------------
# Lookups


def counted() -> tuple[LegacyName, ...]:
    """The 24 legacy names of the migration."""
    return tuple(entry for entry in LEGACY_NAMES if entry.counted)


def by_key() -> dict[str, LegacyName]:
    return {entry.key: entry for entry in LEGACY_NAMES}


def by_path() -> dict[str, LegacyName]:
    """Every dotted old path -> its entry."""
    return {path: entry for entry in LEGACY_NAMES for path in entry.paths}


def module_paths() -> tuple[str, ...]:
    """Every old module path the shim provides (parents first)."""
    modules = {T}
    for entry in LEGACY_NAMES:
        for path in entry.paths:
            parts = path.split(".")
            stop = len(parts) + 1 if entry.kind == "module" else len(parts)
            modules.update(".".join(parts[:i]) for i in range(1, stop))
    modules.update(MODULE_ALL)
    return tuple(sorted(modules, key=lambda m: (m.count("."), m)))


def names_in(module: str) -> dict[str, LegacyName]:
    """Attribute name -> entry for the names an old module held (submodules excluded)."""
    return {path.rpartition(".")[2]: entry for entry in LEGACY_NAMES if entry.kind != "module"
            for path in entry.paths if path.rpartition(".")[0] == module}


def removed(path: str) -> Removed | None:
    """The ``Removed`` record of an old dotted path, if the shim dropped it."""
    for record in REMOVED:
        if record.path == path:
            return record
    if any(path.startswith(prefix) for prefix in REMOVED_MODULE_PREFIXES):
        return Removed(path, "ringlib (this flat module was removed before 0.2)", "module")
    return None


# ---------------------------------------------------------------------------------------------
# Rendering a rewrite as Python source (shared by the codemod, the parity harness and tests)


def _default_source(param: Param) -> str:
    return repr(param.default)


def render_call(entry: LegacyName, semantics: Semantics, values: Mapping[str, str]) -> str:
    """Python source of the canonical call for an old constructor call.

    ``values`` maps old parameter names to the Python source of the arguments the old call
    passed (parameters left at their defaults are absent). Raises KeyError where a required
    parameter is missing and ValueError where a ``choose`` mapping has no entry for a value.
    """
    rewrite = entry.rewrites[semantics]
    params = {p.name: p for p in entry.params}

    def arg_source(arg: Arg) -> str | None:
        if arg.value is not None and arg.value != "<pattern>":
            return arg.value
        if arg.value == "<pattern>":
            inner = [s for s in (render_arg(a) for a in rewrite.pattern_args) if s is not None]
            return f"{rewrite.pattern}({', '.join(inner)})"
        if arg.template is not None:
            filled = {name: values.get(name, _default_source(params[name])) if name in params else values[name]
                      for name in params}
            return arg.template.format(**filled)
        assert arg.source is not None
        given = arg.source in values
        if not given and arg.omit_if_default:
            return None
        src = values[arg.source] if given else _default_source(params[arg.source])
        if arg.choose:
            table = dict(arg.choose)
            if src not in table:
                raise ValueError(f"{entry.name}: no rewrite for {arg.source}={src}")
            return table[src]
        return src

    def render_arg(arg: Arg) -> str | None:
        src = arg_source(arg)
        if src is None:
            return None
        return src if arg.keyword is None else f"{arg.keyword}={src}"

    rendered = [s for s in (render_arg(a) for a in rewrite.args) if s is not None]
    return f"{rewrite.target}({', '.join(rendered)})"
