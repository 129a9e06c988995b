"""Registry rows of the old attention modules and models of ``dilated_attention_pytorch`` 0.2:
the ``base`` classes, ``models`` (transformer layers, LongNet), ``dynamic_dilated_attention``
and the ``core.factory`` constructors. Plain keyword data, appended to the registry's entries.

Numbers: "preserve" rows match recordings of the old code (``tests/legacy/recordings/models``,
made by ``tests/legacy/record_models.py``); "intended" rows are names whose old code raised on
every call (the recorded error is quoted in the divergence).
"""

from __future__ import annotations

from ringlib_legacy.schema import Arg, Divergence, LegacyName, Param, Rewrite

T = "dilated_attention_pytorch"
BASE, MODELS, CORE, DYN = f"{T}.base", f"{T}.models", f"{T}.core", f"{T}.dynamic_dilated_attention"
_DA, _MDA = f"{BASE}.dilated_attention", f"{BASE}.multihead_dilated_attention"
_IDA, _IMDA = f"{BASE}.improved_dilated_attention", f"{BASE}.improved_multihead_dilated_attention"
_DIST, _HP = f"{BASE}.distributed_dilated_attention", f"{BASE}.head_parallel_dilated_attention_optimized"
_TR, _LN, _FAC = f"{MODELS}.transformer", f"{MODELS}.long_net", f"{CORE}.factory"

_SEG = Param(name="segment_lengths")
_RATES = Param(name="dilation_rates")
_KW = Param(name="kwargs", role="ignored", kind="var_keyword")
_DEVICE = (Param(name="device", default=None), Param(name="dtype", default=None))
_MULTIHEAD = (Param(name="embed_dim"), Param(name="num_heads"), _RATES, _SEG, Param(name="dropout", default=0.0),
              Param(name="bias", default=True), Param(name="layer_norm", default=True),
              Param(name="layer_norm_eps", default=1e-5), Param(name="gamma_init", default=1.0), *_DEVICE)
_LAYER = (Param(name="d_model"), Param(name="nhead"), _SEG, _RATES, Param(name="dim_feedforward", default=2048),
          Param(name="dropout", default=0.1), Param(name="activation", default="relu"),
          Param(name="layer_norm_eps", default=1e-5), Param(name="gamma_init", default=1.0), *_DEVICE)
_LONGNET = (Param(name="d_model", default=768), Param(name="nhead", default=12),
            Param(name="num_encoder_layers", default=12), Param(name="num_decoder_layers", default=12),
            Param(name="dim_feedforward", default=3072),
            Param(name="segment_lengths", default=[2048, 4096, 8192, 16384, 32768]),
            Param(name="dilation_rates", default=[1, 2, 4, 6, 12]), Param(name="dropout", default=0.0),
            Param(name="activation", default="relu"), Param(name="layer_norm_eps", default=1e-5), *_DEVICE)

_LISTS = (Arg(source="segment_lengths"), Arg(source="dilation_rates"))
_HEAD_GROUPS = (*_LISTS, Arg(keyword="mixing", value="'head_groups'", omit_if_default=False))


def _by_hand(reason: str) -> Rewrite:
    return Rewrite(target="ringlib.MultiheadDilatedAttention", safe=False, reason=reason)


_MHA_REASON = ("separate q/k/v projections (query, key, value inputs), LayerNorm on q and k and after attention "
               "(MAGNETO): no canonical module has these parameters; keep the shim or migrate by hand")
_MODEL_REASON = "a whole model: keep the shim class or build your own from ringlib.MultiheadDilatedAttention"
_NEVER_RAN = "the old code raised on every call ({error}); the shim builds what its docstring describes"
_FACTORY_ERROR = "ValueError: Unknown attention type 'improved'. Available types: []"
_HEAD_AXIS = ("HEAD_AXIS: the heads of group i attend to each other at each selected row "
              "(rows i % r, i % r + r, ... of every segment), sum / G")
_IMPROVED_INTENDED = Divergence(
    what="--semantics intended attends over the selected rows of each segment (ringlib.Dilated(..., "
         "mixing='head_groups'), what the old docstring describes) instead of across the heads of a group",
    measured="old vs intended on the recorded config (L=64, [16, 32]/[1, 2], H=4, D=16): 1.6 max-abs",
    applies="intended")
_MASK_IGNORED = Divergence(
    what="attention_mask / attn_mask / key_padding_mask: the old code validated and then ignored them silently; "
         "the shim ignores them with a UserWarning", measured="identical outputs; one warning per call")


def _row(name: str, paths: tuple[str, ...], numerics: str, profile: str, replacement: str, *, kind: str = "class",
         key: str | None = None, params: tuple[Param, ...] = (), preserve: Rewrite | None = None,
         intended: Rewrite | None = None, divergences: tuple[Divergence, ...] = (), family: str = "dilated"
         ) -> LegacyName:
    rewrites = {} if preserve is None else {"preserve": preserve, "intended": intended or preserve}
    return LegacyName(name=name, key=key or name, kind=kind, family=family, paths=paths,
                      numerics=numerics, profile=profile, replacement=replacement, params=params, rewrites=rewrites,
                      divergences=divergences, counted=False)


ROWS: list[LegacyName] = [
    _row("DilatedAttention",
         (f"{T}.DilatedAttention", f"{T}.dilated_attention.DilatedAttention", f"{BASE}.DilatedAttention",
          f"{_DA}.DilatedAttention", f"{_MDA}.DilatedAttention", f"{DYN}.DilatedAttention"),
         "preserve", "Dilated(mixing='head_groups'); softmax_scale only with op (xFormers), else head_dim ** -0.5",
         "ringlib.DilatedAttention(ringlib.Dilated(segment_lengths, dilation_rates, mixing='head_groups'))",
         params=(_SEG, _RATES, Param(name="softmax_scale", default=None, role="ignored",
                                     note="used by the xFormers path only"),
                 Param(name="attention_dropout", default=0.0), Param(name="op", default=None, role="unsupported"),
                 *(Param(name=n, default=d, role="ignored") for n, d in (
                     ("enable_memory_pool", False), ("enable_profiling", False), ("lightweight_pool", True))), _KW),
         preserve=Rewrite(target="ringlib.DilatedAttention",
                          args=(Arg(value="<pattern>"), Arg(keyword="dropout", source="attention_dropout")),
                          pattern="ringlib.Dilated", pattern_args=_HEAD_GROUPS),
         intended=Rewrite(target="ringlib.DilatedAttention",
                          args=(Arg(value="<pattern>"), Arg(keyword="dropout", source="attention_dropout")),
                          pattern="ringlib.Dilated", pattern_args=_LISTS),
         divergences=(_MASK_IGNORED,
                      Divergence(what="training mode: the old class applied dropout to the attention probabilities "
                                      "and again to the output; the rewrite applies it once",
                                 measured="eval identical; training differs by the second dropout mask"),
                      Divergence(what="--semantics intended mixes the pairs by log-sum-exp with per-head offsets "
                                      "(LongNet) instead of head groups divided by the group count",
                                 measured="different semantics (not a bug fix)", applies="intended"))),
    _row("ImprovedDilatedAttention",
         (f"{T}.ImprovedDilatedAttention", f"{BASE}.ImprovedDilatedAttention", f"{_IDA}.ImprovedDilatedAttention",
          f"{DYN}.ImprovedDilatedAttention", f"{T}.improved_dilated_attention.ImprovedDilatedAttention"),
         "preserve", _HEAD_AXIS,
         "ringlib.DilatedAttention(ringlib.Dilated(segment_lengths, dilation_rates, mixing='head_groups'))",
         params=(_SEG, _RATES, Param(name="dropout", default=0.0), Param(name="use_tf32", default=True, role="ignored"),
                 Param(name="enable_memory_pool", default=False, role="ignored"),
                 Param(name="enable_profiling", default=False, role="ignored"),
                 Param(name="lightweight_pool", default=True, role="ignored"), _KW),
         preserve=Rewrite(target="ringlib.DilatedAttention", safe=False,
                          reason="the old class attended across heads; no canonical pattern computes that"),
         intended=Rewrite(target="ringlib.DilatedAttention",
                          args=(Arg(value="<pattern>"), Arg(keyword="dropout", source="dropout")),
                          pattern="ringlib.Dilated", pattern_args=_HEAD_GROUPS),
         divergences=(_MASK_IGNORED, _IMPROVED_INTENDED)),
    _row("create_improved_dilated_attention", (f"{_IDA}.create_improved_dilated_attention",), "preserve",
         _HEAD_AXIS, "ringlib.DilatedAttention(ringlib.Dilated(..., mixing='head_groups'))", kind="function"),
    _row("create_dilated_attention", (f"{BASE}.create_dilated_attention", f"{_DA}.create_dilated_attention"),
         "preserve", "Dilated(mixing='head_groups')",
         "ringlib.DilatedAttention(ringlib.Dilated(segment_lengths, dilation_rates, mixing='head_groups'))",
         kind="function", key="create_dilated_attention@base"),
    _row("MultiheadDilatedAttention",
         (f"{T}.MultiheadDilatedAttention", f"{BASE}.MultiheadDilatedAttention", f"{_MDA}.MultiheadDilatedAttention",
          f"{_TR}.MultiheadDilatedAttention", f"{T}.multihead_dilated_attention.MultiheadDilatedAttention"),
         "preserve", "Dilated(mixing='head_groups') inside q/k/v/out projections with MAGNETO LayerNorms",
         "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.Dilated(segment_lengths, dilation_rates, "
         "mixing='head_groups')) (fused qkv_proj = cat(q_proj, k_proj, v_proj); no q_ln/k_ln)",
         params=(*_MULTIHEAD, Param(name="op", default=None, role="ignored")),
         preserve=_by_hand(_MHA_REASON), divergences=(_MASK_IGNORED,)),
    _row("create_multihead_dilated_attention", (f"{_MDA}.create_multihead_dilated_attention",), "preserve",
         "Dilated(mixing='head_groups') inside projections", "ringlib.MultiheadDilatedAttention",
         kind="function", key="create_multihead_dilated_attention@base"),
    _row("ImprovedMultiheadDilatedAttention",
         (f"{T}.ImprovedMultiheadDilatedAttention", f"{BASE}.ImprovedMultiheadDilatedAttention",
          f"{_IMDA}.ImprovedMultiheadDilatedAttention",
          f"{T}.improved_multihead_dilated_attention.ImprovedMultiheadDilatedAttention"),
         "preserve", f"{_HEAD_AXIS}; fused qkv_proj, LayerNorm after attention; returns (out, None)",
         "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.Dilated(segment_lengths, dilation_rates, "
         "mixing='head_groups')) (qkv_proj and out_proj load as they are; no q_ln)",
         params=(*_MULTIHEAD, Param(name="use_tf32", default=True, role="ignored")),
         preserve=_by_hand("returns (out, None), LayerNorm after attention and attention across heads"),
         divergences=(_MASK_IGNORED, _IMPROVED_INTENDED)),
    _row("create_improved_multihead_dilated_attention", (f"{_IMDA}.create_improved_multihead_dilated_attention",),
         "preserve", _HEAD_AXIS, "ringlib.MultiheadDilatedAttention", kind="function"),
    _row("DistributedMultiheadDilatedAttention",
         (f"{BASE}.DistributedMultiheadDilatedAttention", f"{_DIST}.DistributedMultiheadDilatedAttention"),
         "intended", "Dilated(mixing='head_groups') inside projections, LayerNorm before out_proj",
         "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.Dilated(..., mixing='head_groups'))",
         params=(Param(name="embed_dim"), Param(name="num_heads"), _RATES, _SEG, Param(name="dropout", default=0.0),
                 Param(name="op", default=None, role="ignored")),
         preserve=_by_hand("returns (out, None) and has a LayerNorm before out_proj"),
         divergences=(Divergence(what=_NEVER_RAN.format(error="AttributeError: no attribute '_reset_parameters'; "
                                                          "its module also needed xformers to import"),
                                 measured="old: AttributeError"),)),
    _row("HeadParallelDilatedAttentionOptimized",
         (f"{BASE}.HeadParallelDilatedAttentionOptimized", f"{_HP}.HeadParallelDilatedAttentionOptimized"),
         "intended", "Dilated(mixing='head_groups') over all heads",
         "ringlib.DilatedAttention(ringlib.Dilated(segment_lengths, dilation_rates, mixing='head_groups'))",
         params=(_SEG, _RATES, Param(name="dropout", default=0.0),
                 *(Param(name=n, default=d, role="ignored") for n, d in (
                     ("use_xformers", True), ("use_flex_attention", False), ("use_flash_attention", True),
                     ("use_memory_pool", True), ("use_pattern_cache", True))), *_DEVICE),
         preserve=Rewrite(target="ringlib.DilatedAttention",
                          args=(Arg(value="<pattern>"), Arg(keyword="dropout", source="dropout")),
                          pattern="ringlib.Dilated", pattern_args=_HEAD_GROUPS, safe=False,
                          reason="the old class applied dropout to the output as well"),
         divergences=(Divergence(what=_NEVER_RAN.format(error="TypeError: unexpected keyword argument 'use_xformers'"),
                                 measured="old: TypeError"),)),
    _row("HeadParallelMultiheadDilatedAttentionOptimized", (f"{_HP}.HeadParallelMultiheadDilatedAttentionOptimized",),
         "intended", "Dilated(mixing='head_groups') inside Xavier-uniform q/k/v/out projections",
         "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.Dilated(..., mixing='head_groups'))",
         params=(Param(name="embed_dim"), Param(name="num_heads"), _SEG, _RATES, Param(name="dropout", default=0.0),
                 Param(name="bias", default=True), *_DEVICE, _KW),
         preserve=_by_hand("separate q/k/v projections and a (out, None) return"),
         divergences=(Divergence(what=_NEVER_RAN.format(error="TypeError: unexpected keyword argument 'use_xformers'"),
                                 measured="old: TypeError"),)),
    _row("DilatedTransformerEncoderLayer",
         (f"{T}.DilatedTransformerEncoderLayer", f"{MODELS}.DilatedTransformerEncoderLayer",
          f"{_TR}.DilatedTransformerEncoderLayer", f"{_LN}.DilatedTransformerEncoderLayer"),
         "preserve", "pre-norm layer around the old MultiheadDilatedAttention", _MODEL_REASON, params=_LAYER,
         preserve=_by_hand(_MODEL_REASON), family="models"),
    _row("DilatedTransformerDecoderLayer",
         (f"{T}.DilatedTransformerDecoderLayer", f"{MODELS}.DilatedTransformerDecoderLayer",
          f"{_TR}.DilatedTransformerDecoderLayer", f"{_LN}.DilatedTransformerDecoderLayer"),
         "preserve", "pre-norm layer around two old MultiheadDilatedAttention", _MODEL_REASON, params=_LAYER,
         preserve=_by_hand(_MODEL_REASON), family="models"),
    _row("LongNet", (f"{T}.LongNet", f"{MODELS}.LongNet", f"{_LN}.LongNet", f"{T}.long_net.LongNet"),
         "preserve", "encoder-decoder of the old transformer layers", _MODEL_REASON, params=_LONGNET,
         preserve=_by_hand(_MODEL_REASON), family="models"),
    _row("LongNetLM", (f"{_LN}.LongNetLM", f"{T}.long_net.LongNetLM"), "preserve",
         "embedding + xPos (no torchscale needed) + LongNet + LayerNorm + vocabulary projection", _MODEL_REASON,
         params=(Param(name="num_tokens"), *_LONGNET), preserve=_by_hand(_MODEL_REASON), family="models"),
    _row("DynamicDilatedAttention", (f"{T}.DynamicDilatedAttention", f"{DYN}.DynamicDilatedAttention"),
         "preserve", f"segments chosen per input shape; {_HEAD_AXIS} (improved=True) or Dilated(mixing='head_groups')",
         "ringlib.DilatedAttention(ringlib.Dilated(segment_lengths, dilation_rates, mixing='head_groups')) with "
         "segments you choose",
         params=(Param(name="min_segment_size", default=512), Param(name="max_segment_size", default=65536),
                 Param(name="selector_config", default=None, role="unsupported"),
                 Param(name="fallback_segments", default=None), Param(name="improved", default=True), _KW),
         preserve=Rewrite(target="ringlib.DilatedAttention", safe=False,
                          reason="segment lengths are chosen at run time from the input shape and free GPU memory"),
         divergences=(_IMPROVED_INTENDED,)),
    _row("DynamicMultiheadDilatedAttention",
         (f"{T}.DynamicMultiheadDilatedAttention", f"{DYN}.DynamicMultiheadDilatedAttention"), "preserve",
         "DynamicDilatedAttention inside q/k/v/out projections; returns (out, uniform placeholder weights)",
         "ringlib.MultiheadDilatedAttention with segments you choose",
         params=(Param(name="embed_dim"), Param(name="num_heads"), Param(name="dropout", default=0.0),
                 Param(name="bias", default=True), Param(name="selector_config", default=None, role="unsupported"),
                 _KW),
         preserve=_by_hand("segments chosen at run time; returns (out, weights)"), divergences=(_IMPROVED_INTENDED,)),
    _row("create_dynamic_dilated_attention", (f"{T}.create_dynamic_dilated_attention",
                                              f"{DYN}.create_dynamic_dilated_attention"),
         "preserve", "DynamicDilatedAttention", "ringlib.DilatedAttention with segments you choose", kind="function"),
    _row("create_dilated_attention",
         (f"{T}.create_dilated_attention", f"{CORE}.create_dilated_attention", f"{_FAC}.create_dilated_attention"),
         "intended", "'auto'/'improved' -> ImprovedDilatedAttention, 'standard' -> DilatedAttention",
         "ringlib.DilatedAttention(ringlib.Dilated(segment_lengths, dilation_rates, mixing='head_groups'))",
         kind="function", divergences=(Divergence(what=_NEVER_RAN.format(error=_FACTORY_ERROR),
                                                  measured="old: ValueError"),)),
    _row("create_multihead_dilated_attention",
         (f"{T}.create_multihead_dilated_attention", f"{CORE}.create_multihead_dilated_attention",
          f"{_FAC}.create_multihead_dilated_attention"),
         "intended", "'auto'/'improved' -> ImprovedMultiheadDilatedAttention, 'standard' -> MultiheadDilatedAttention, "
         "'block_sparse_ring' -> BlockSparseRingMultiheadDilatedAttention",
         "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.Dilated(segment_lengths, dilation_rates))",
         kind="function", divergences=(Divergence(what=_NEVER_RAN.format(error=_FACTORY_ERROR),
                                                  measured="old: ValueError"),)),
    _row("create_block_sparse_attention", (f"{CORE}.create_block_sparse_attention",
                                           f"{_FAC}.create_block_sparse_attention"),
         "intended", "BlockSparseRingMultiheadDilatedAttention",
         "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.BlockSparse(...))", kind="function",
         key="create_block_sparse_attention@core", family="sparse",
         divergences=(Divergence(what=_NEVER_RAN.format(error="ValueError: Unknown attention type "
                                                          "'block_sparse_ring'"), measured="old: ValueError"),)),
    *(_row(name, (f"{CORE}.{name}", f"{_FAC}.{name}"), "preserve", "helper",
           "nothing (build the ringlib module you want directly)", kind="function")
      for name in ("register_attention", "register_multihead_attention")),
]

#: names these rows add to the ``__all__`` of old packages (merged by the registry).
MODULE_ALL: dict[str, tuple[str, ...]] = {
    T: ("DilatedTransformerDecoderLayer", "DilatedTransformerEncoderLayer", "ImprovedDilatedAttention",
        "ImprovedMultiheadDilatedAttention", "LongNet", "MultiheadDilatedAttention", "create_dilated_attention",
        "create_multihead_dilated_attention", "DynamicDilatedAttention", "DynamicMultiheadDilatedAttention",
        "create_dynamic_dilated_attention"),
    BASE: ("DilatedAttention", "create_dilated_attention", "MultiheadDilatedAttention", "ImprovedDilatedAttention",
           "ImprovedMultiheadDilatedAttention", "DistributedMultiheadDilatedAttention",
           "HeadParallelDilatedAttentionOptimized"),
    MODELS: ("DilatedTransformerEncoderLayer", "DilatedTransformerDecoderLayer", "LongNet"),
}

#: ``Removed`` paths that these rows bring back (the registry drops them from its removed list).
RESTORED: tuple[str, ...] = tuple(
    f"{T}.{name}" for name in (
        "LongNet", "MultiheadDilatedAttention", "ImprovedDilatedAttention", "ImprovedMultiheadDilatedAttention",
        "DilatedTransformerEncoderLayer", "DilatedTransformerDecoderLayer", "create_dilated_attention",
        "create_multihead_dilated_attention", "improved_dilated_attention", "improved_multihead_dilated_attention",
        "multihead_dilated_attention", "long_net", "core"))
