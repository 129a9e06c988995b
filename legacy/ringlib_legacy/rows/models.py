"""Registry rows of the old attention modules and models of ``dilated_attention_pytorch`` 0.2:
the ``base`` classes, ``models`` (transformer layers, LongNet), ``dynamic_dilated_attention``
and the ``core.factory`` constructors. Plain keyword data, appended to the registry's entries.

Numbers: "preserve" rows match recordings of the old code (``tests/legacy/recordings/models``,
made by ``tests/legacy/record_models.py``); "intended" rows are names whose old code raised on
every call (the recorded error is quoted in the divergence).
"""

from __future__ import annotations

from ringlib_legacy.rows.common import (
    CHOICE_DEVICE,
    DOUBLE_DROPOUT,
    FACTORY_NEVER_RAN,
    HEAD_AXIS,
    HEAD_AXIS_CORE,
    HEAD_PARALLEL_NEVER_RAN,
    IMPROVED_INTENDED,
    MASK_IGNORED,
    MAGNETO_NORMS,
    DECODER_LAYER,
    ENCODER_LAYER,
    LONG_NET,
    LONG_NET_LM,
    MODEL_FORWARD,
    SEGMENTS_PER_CALL,
    SEPARATE_PROJECTIONS,
)
from ringlib_legacy.schema import Arg, Divergence, KeyMap, LegacyName, Param, Rewrite, Split

_HEAD_GROUPS = (
    Arg(source="segment_lengths"),
    Arg(source="dilation_rates"),
    Arg(keyword="mixing", value="'head_groups'", omit_if_default=False),
)
#: The head-group dilated pattern of the old models' attention, from arguments that default to the paper's sizes.
_HEAD_GROUPS_ALWAYS = (
    Arg(source="segment_lengths", omit_if_default=False),
    Arg(source="dilation_rates", omit_if_default=False),
    Arg(keyword="mixing", value="'head_groups'", omit_if_default=False),
)
#: The keyword arguments every old model passes on as they are.
_MODEL_OPTIONS = (
    Arg(keyword="dim_feedforward", source="dim_feedforward"),
    Arg(keyword="dropout", source="dropout"),
    Arg(keyword="activation", source="activation"),
    Arg(keyword="layer_norm_eps", source="layer_norm_eps"),
)
_DEVICE = (Arg(keyword="device", source="device"), Arg(keyword="dtype", source="dtype"))
_LONG_NET_OPTIONS = (
    Arg(keyword="num_encoder_layers", source="num_encoder_layers"),
    Arg(keyword="num_decoder_layers", source="num_decoder_layers"),
    *_MODEL_OPTIONS,
    Arg(keyword="decoder_self_attn_norms", value="False"),
    *_DEVICE,
)
#: The old LongNet's parameters and defaults (LongNetLM takes the same after num_tokens).
_LONG_NET_PARAMS = (
    Param(name="d_model", default=768),
    Param(name="nhead", default=12),
    Param(name="num_encoder_layers", default=12),
    Param(name="num_decoder_layers", default=12),
    Param(name="dim_feedforward", default=3072),
    Param(name="segment_lengths", default=[2048, 4096, 8192, 16384, 32768]),
    Param(name="dilation_rates", default=[1, 2, 4, 6, 12]),
    Param(name="dropout", default=0.0),
    Param(name="activation", default="relu"),
    Param(name="layer_norm_eps", default=1e-05),
    Param(name="device", default=None),
    Param(name="dtype", default=None),
)
_MODEL_TRAINING = Divergence(
    what=(
        "training: the old attention applied dropout to its probabilities and again to its output (the rewrite "
        "once), used one LayerNorm (q_ln) on q and on the attention output (the rewrite: q_norm and out_norm, "
        "both loaded from q_ln, then trained separately); a fresh model draws other initial weights (the old "
        "LongNet deep-copied one layer: all its layers started equal)"
    ),
    measured="eval on a loaded checkpoint: bit-identical; training and fresh initialisation: differ",
)
_IMPROVED_MULTIHEAD_ARGS = (
    Arg(source="embed_dim"),
    Arg(source="num_heads"),
    Arg(value="<pattern>"),
    Arg(keyword="bias", source="bias"),
    Arg(keyword="dropout", source="dropout"),
    Arg(keyword="out_norm", source="layer_norm", omit_if_default=False),
    Arg(keyword="norm_eps", source="layer_norm_eps"),
    Arg(keyword="device", source="device"),
    Arg(keyword="dtype", source="dtype"),
)
_DYNAMIC_MULTIHEAD_ARGS = (
    Arg(source="embed_dim"),
    Arg(source="num_heads"),
    Arg(value="<pattern>"),
    Arg(keyword="bias", source="bias"),
    Arg(keyword="dropout", source="dropout"),
)
_RETURNS_TUPLE = "the old forward returned (out, None); the canonical forward returns out: migrate by hand"
_HEAD_AXIS = (Arg(source="segment_lengths"), Arg(source="dilation_rates"))
#: The old base DilatedAttention's computation, as a core built per segment choice.
_HEAD_GROUPS_CORE = "functools.partial(ringlib.Dilated, mixing='head_groups')"
#: FitSegments with the old class's limits (its defaults where the call left them out).
_FIT_SEGMENTS = Arg(template="ringlib.compat.FitSegments({min_segment_size}, {max_segment_size})")
_PLACEHOLDER_WEIGHTS = (
    "the old forward returned (out, weights) (uniform placeholder weights unless need_weights=False); the "
    "canonical forward returns out: migrate by hand"
)
#: The old multihead improved class: one fused qkv_proj (split into the three projections), q_ln used after
#: attention only, k_ln never used.
_FUSED_QKV_POST_NORM = KeyMap(
    split=(Split("qkv_proj.", ("q_proj.", "k_proj.", "v_proj.")),),
    drop=("k_ln.",),
    rename={"q_ln.": "out_norm."},
)
_FUSED_ROWS = Divergence(
    what="the old class sliced q, k and v out of one fused qkv_proj product; the rewrite (and the shim) apply "
    "the three row blocks of qkv_proj as separate projections",
    measured="float rounding only: the 0.2-recorded outputs (self and cross, causal) within the flash-attn rule "
    "of the rewrite (tests/legacy/test_checkpoints.py)",
)


ROWS: tuple[LegacyName, ...] = (
    LegacyName(
        name="DilatedAttention",
        kind="class",
        family="dilated",
        numerics="preserve",
        profile="Dilated(mixing='head_groups'); softmax_scale only with op (xFormers), else head_dim ** -0.5",
        replacement="ringlib.DilatedAttention(ringlib.Dilated(segment_lengths, dilation_rates, mixing='head_groups'))",
        paths=(
            "dilated_attention_pytorch.DilatedAttention",
            "dilated_attention_pytorch.dilated_attention.DilatedAttention",
            "dilated_attention_pytorch.base.DilatedAttention",
            "dilated_attention_pytorch.base.dilated_attention.DilatedAttention",
            "dilated_attention_pytorch.base.multihead_dilated_attention.DilatedAttention",
            "dilated_attention_pytorch.dynamic_dilated_attention.DilatedAttention",
        ),
        params=(
            Param(name="segment_lengths"),
            Param(name="dilation_rates"),
            Param(name="softmax_scale", default=None, role="ignored", note="used by the xFormers path only"),
            Param(name="attention_dropout", default=0.0),
            Param(name="op", default=None, role="unsupported"),
            Param(name="enable_memory_pool", default=False, role="ignored"),
            Param(name="enable_profiling", default=False, role="ignored"),
            Param(name="lightweight_pool", default=True, role="ignored"),
            Param(name="kwargs", role="ignored", kind="var_keyword"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.DilatedAttention",
                args=(
                    Arg(value="<pattern>"),
                    Arg(keyword="dropout", source="attention_dropout"),
                ),
                pattern="ringlib.Dilated",
                pattern_args=(
                    Arg(source="segment_lengths"),
                    Arg(source="dilation_rates"),
                    Arg(keyword="mixing", value="'head_groups'", omit_if_default=False),
                ),
            ),
            "intended": Rewrite(
                target="ringlib.DilatedAttention",
                args=(
                    Arg(value="<pattern>"),
                    Arg(keyword="dropout", source="attention_dropout"),
                ),
                pattern="ringlib.Dilated",
                pattern_args=(
                    Arg(source="segment_lengths"),
                    Arg(source="dilation_rates"),
                ),
            ),
        },
        divergences=(
            MASK_IGNORED,
            Divergence(
                what=(
                    "training mode: the old class applied dropout to the attention probabilities and again to the "
                    "output; the rewrite applies it once"
                ),
                measured="eval identical; training differs by the second dropout mask",
            ),
            Divergence(
                what=(
                    "--semantics intended mixes the pairs by log-sum-exp with per-head offsets (LongNet) instead of "
                    "head groups divided by the group count"
                ),
                measured="different semantics (not a bug fix)",
                applies="intended",
            ),
        ),
        counted=False,
    ),
    LegacyName(
        name="ImprovedDilatedAttention",
        kind="class",
        family="dilated",
        numerics="preserve",
        profile=HEAD_AXIS,
        replacement=f"ringlib.DilatedAttention({HEAD_AXIS_CORE})",
        paths=(
            "dilated_attention_pytorch.ImprovedDilatedAttention",
            "dilated_attention_pytorch.base.ImprovedDilatedAttention",
            "dilated_attention_pytorch.base.improved_dilated_attention.ImprovedDilatedAttention",
            "dilated_attention_pytorch.dynamic_dilated_attention.ImprovedDilatedAttention",
            "dilated_attention_pytorch.improved_dilated_attention.ImprovedDilatedAttention",
        ),
        params=(
            Param(name="segment_lengths"),
            Param(name="dilation_rates"),
            Param(name="dropout", default=0.0),
            Param(name="use_tf32", default=True, role="ignored"),
            Param(name="enable_memory_pool", default=False, role="ignored"),
            Param(name="enable_profiling", default=False, role="ignored"),
            Param(name="lightweight_pool", default=True, role="ignored"),
            Param(name="kwargs", role="ignored", kind="var_keyword"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.DilatedAttention",
                args=(
                    Arg(value="<pattern>"),
                    Arg(keyword="dropout", source="dropout"),
                ),
                pattern="ringlib.compat.HeadAxis",
                pattern_args=_HEAD_AXIS,
            ),
            "intended": Rewrite(
                target="ringlib.DilatedAttention",
                args=(
                    Arg(value="<pattern>"),
                    Arg(keyword="dropout", source="dropout"),
                ),
                pattern="ringlib.Dilated",
                pattern_args=(
                    Arg(source="segment_lengths"),
                    Arg(source="dilation_rates"),
                    Arg(keyword="mixing", value="'head_groups'", omit_if_default=False),
                ),
            ),
        },
        divergences=(
            MASK_IGNORED,
            DOUBLE_DROPOUT,
            IMPROVED_INTENDED,
        ),
        counted=False,
    ),
    LegacyName(
        name="create_improved_dilated_attention",
        kind="function",
        family="dilated",
        numerics="preserve",
        profile=HEAD_AXIS,
        replacement=f"ringlib.DilatedAttention({HEAD_AXIS_CORE})",
        paths=(
            "dilated_attention_pytorch.base.improved_dilated_attention.create_improved_dilated_attention",
        ),
        counted=False,
    ),
    LegacyName(
        name="create_dilated_attention",
        kind="function",
        family="dilated",
        numerics="preserve",
        profile="Dilated(mixing='head_groups')",
        replacement="ringlib.DilatedAttention(ringlib.Dilated(segment_lengths, dilation_rates, mixing='head_groups'))",
        paths=(
            "dilated_attention_pytorch.base.create_dilated_attention",
            "dilated_attention_pytorch.base.dilated_attention.create_dilated_attention",
        ),
        counted=False,
        key="create_dilated_attention@base",
    ),
    LegacyName(
        name="MultiheadDilatedAttention",
        kind="class",
        family="dilated",
        numerics="preserve",
        profile="Dilated(mixing='head_groups') inside q/k/v/out projections with MAGNETO LayerNorms",
        replacement=(
            "ringlib.MultiheadAttention(embed_dim, num_heads, ringlib.Dilated(segment_lengths, dilation_rates, "
            "mixing='head_groups'), qk_norm=layer_norm, out_norm=layer_norm) (q_ln loads as q_norm and out_norm)"
        ),
        paths=(
            "dilated_attention_pytorch.MultiheadDilatedAttention",
            "dilated_attention_pytorch.base.MultiheadDilatedAttention",
            "dilated_attention_pytorch.base.multihead_dilated_attention.MultiheadDilatedAttention",
            "dilated_attention_pytorch.models.transformer.MultiheadDilatedAttention",
            "dilated_attention_pytorch.multihead_dilated_attention.MultiheadDilatedAttention",
        ),
        params=(
            Param(name="embed_dim"),
            Param(name="num_heads"),
            Param(name="dilation_rates"),
            Param(name="segment_lengths"),
            Param(name="dropout", default=0.0),
            Param(name="bias", default=True),
            Param(name="layer_norm", default=True),
            Param(name="layer_norm_eps", default=1e-05),
            Param(name="gamma_init", default=1.0, note="initialisation gain only (MAGNETO)"),
            Param(name="device", default=None),
            Param(name="dtype", default=None),
            Param(name="op", default=None, role="ignored"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.MultiheadAttention",
                args=(
                    Arg(source="embed_dim"),
                    Arg(source="num_heads"),
                    Arg(value="<pattern>"),
                    Arg(keyword="bias", source="bias"),
                    Arg(keyword="dropout", source="dropout"),
                    Arg(keyword="qk_norm", source="layer_norm", omit_if_default=False),
                    Arg(keyword="out_norm", source="layer_norm", omit_if_default=False),
                    Arg(keyword="norm_eps", source="layer_norm_eps"),
                    Arg(keyword="device", source="device"),
                    Arg(keyword="dtype", source="dtype"),
                ),
                pattern="ringlib.Dilated",
                pattern_args=_HEAD_GROUPS,
                reason=(
                    "the old forward also took key_padding_mask/need_weights/attn_mask and returned (out, None) "
                    "with need_weights=True; the canonical forward is forward(query, key=None, value=None, *, "
                    "is_causal)"
                ),
            ),
        },
        divergences=(
            MASK_IGNORED,
            Divergence(
                what=(
                    "the old class used one LayerNorm (q_ln) on q and again on the attention output; the rewrite has "
                    "q_norm and out_norm, both loaded from q_ln, which training then updates separately; dropout "
                    "acted on the attention probabilities and again on the attention output, the rewrite applies it "
                    "once"
                ),
                measured="eval and the loaded checkpoint: identical; training: separate norm updates, one dropout",
            ),
        ),
        checkpoint=MAGNETO_NORMS,
        counted=False,
    ),
    LegacyName(
        name="create_multihead_dilated_attention",
        kind="function",
        family="dilated",
        numerics="preserve",
        profile="Dilated(mixing='head_groups') inside projections",
        replacement="ringlib.MultiheadDilatedAttention",
        paths=(
            "dilated_attention_pytorch.base.multihead_dilated_attention.create_multihead_dilated_attention",
        ),
        counted=False,
        key="create_multihead_dilated_attention@base",
    ),
    LegacyName(
        name="ImprovedMultiheadDilatedAttention",
        kind="class",
        family="dilated",
        numerics="preserve",
        profile=(
            "HEAD_AXIS: the heads of group i attend to each other at each selected row (rows i % r, i % r + r, ... of "
            "every segment), sum / G; fused qkv_proj, LayerNorm after attention; returns (out, None)"
        ),
        replacement=(
            f"ringlib.MultiheadAttention(embed_dim, num_heads, {HEAD_AXIS_CORE}, out_norm=layer_norm) (qkv_proj "
            "splits into q_proj/k_proj/v_proj, q_ln loads as out_norm)"
        ),
        paths=(
            "dilated_attention_pytorch.ImprovedMultiheadDilatedAttention",
            "dilated_attention_pytorch.base.ImprovedMultiheadDilatedAttention",
            "dilated_attention_pytorch.base.improved_multihead_dilated_attention.ImprovedMultiheadDilatedAttention",
            "dilated_attention_pytorch.improved_multihead_dilated_attention.ImprovedMultiheadDilatedAttention",
        ),
        params=(
            Param(name="embed_dim"),
            Param(name="num_heads"),
            Param(name="dilation_rates"),
            Param(name="segment_lengths"),
            Param(name="dropout", default=0.0),
            Param(name="bias", default=True),
            Param(name="layer_norm", default=True),
            Param(name="layer_norm_eps", default=1e-05),
            Param(name="gamma_init", default=1.0),
            Param(name="device", default=None),
            Param(name="dtype", default=None),
            Param(name="use_tf32", default=True, role="ignored"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.MultiheadAttention",
                args=_IMPROVED_MULTIHEAD_ARGS,
                pattern="ringlib.compat.HeadAxis",
                pattern_args=_HEAD_AXIS,
                safe=False,
                reason=_RETURNS_TUPLE,
            ),
            "intended": Rewrite(
                target="ringlib.MultiheadAttention",
                args=_IMPROVED_MULTIHEAD_ARGS,
                pattern="ringlib.Dilated",
                pattern_args=_HEAD_GROUPS,
                safe=False,
                reason=_RETURNS_TUPLE,
            ),
        },
        divergences=(
            MASK_IGNORED,
            DOUBLE_DROPOUT,
            _FUSED_ROWS,
            IMPROVED_INTENDED,
        ),
        checkpoint=_FUSED_QKV_POST_NORM,
        counted=False,
    ),
    LegacyName(
        name="create_improved_multihead_dilated_attention",
        kind="function",
        family="dilated",
        numerics="preserve",
        profile=HEAD_AXIS,
        replacement=f"ringlib.MultiheadAttention(embed_dim, num_heads, {HEAD_AXIS_CORE}, out_norm=layer_norm)",
        paths=(
            "dilated_attention_pytorch.base.improved_multihead_dilated_attention.create_improved_multihead_dilated_attention",
        ),
        counted=False,
    ),
    LegacyName(
        name="DistributedMultiheadDilatedAttention",
        kind="class",
        family="dilated",
        numerics="intended",
        profile="Dilated(mixing='head_groups') inside projections, LayerNorm before out_proj",
        replacement=(
            "ringlib.MultiheadAttention(embed_dim, num_heads, ringlib.Dilated(segment_lengths, dilation_rates, "
            "mixing='head_groups'), out_norm=True)"
        ),
        paths=(
            "dilated_attention_pytorch.base.DistributedMultiheadDilatedAttention",
            "dilated_attention_pytorch.base.distributed_dilated_attention.DistributedMultiheadDilatedAttention",
        ),
        params=(
            Param(name="embed_dim"),
            Param(name="num_heads"),
            Param(name="dilation_rates"),
            Param(name="segment_lengths"),
            Param(name="dropout", default=0.0),
            Param(name="op", default=None, role="ignored"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.MultiheadAttention",
                args=(
                    Arg(source="embed_dim"),
                    Arg(source="num_heads"),
                    Arg(value="<pattern>"),
                    Arg(keyword="dropout", source="dropout"),
                    Arg(keyword="out_norm", value="True"),
                ),
                pattern="ringlib.Dilated",
                pattern_args=_HEAD_GROUPS,
                safe=False,
                reason=_RETURNS_TUPLE,
            ),
        },
        divergences=(
            Divergence(
                what=(
                    "the old code raised on every call (AttributeError: no attribute '_reset_parameters'; its module "
                    "also needed xformers to import); the shim builds what its docstring describes"
                ),
                measured="old: AttributeError",
            ),
        ),
        checkpoint=KeyMap(rename={"norm.": "out_norm."}, origin="shim"),
        counted=False,
    ),
    LegacyName(
        name="HeadParallelDilatedAttentionOptimized",
        kind="class",
        family="dilated",
        numerics="intended",
        profile="Dilated(mixing='head_groups') over all heads",
        replacement="ringlib.DilatedAttention(ringlib.Dilated(segment_lengths, dilation_rates, mixing='head_groups'))",
        paths=(
            "dilated_attention_pytorch.base.HeadParallelDilatedAttentionOptimized",
            "dilated_attention_pytorch.base.head_parallel_dilated_attention_optimized.HeadParallelDilatedAttentionOptimized",
        ),
        params=(
            Param(name="segment_lengths"),
            Param(name="dilation_rates"),
            Param(name="dropout", default=0.0),
            Param(name="use_xformers", default=True, role="ignored"),
            Param(name="use_flex_attention", default=False, role="ignored"),
            Param(name="use_flash_attention", default=True, role="ignored"),
            Param(name="use_memory_pool", default=True, role="ignored"),
            Param(name="use_pattern_cache", default=True, role="ignored"),
            Param(name="device", default=None),
            Param(name="dtype", default=None),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.DilatedAttention",
                args=(
                    Arg(value="<pattern>"),
                    Arg(keyword="dropout", source="dropout"),
                ),
                pattern="ringlib.Dilated",
                pattern_args=(
                    Arg(source="segment_lengths"),
                    Arg(source="dilation_rates"),
                    Arg(keyword="mixing", value="'head_groups'", omit_if_default=False),
                ),
                safe=False,
                reason="the old class applied dropout to the output as well",
            ),
        },
        divergences=(
            HEAD_PARALLEL_NEVER_RAN,
        ),
        counted=False,
    ),
    LegacyName(
        name="HeadParallelMultiheadDilatedAttentionOptimized",
        kind="class",
        family="dilated",
        numerics="intended",
        profile="Dilated(mixing='head_groups') inside Xavier-uniform q/k/v/out projections",
        replacement=(
            "ringlib.MultiheadAttention(embed_dim, num_heads, ringlib.Dilated(segment_lengths, dilation_rates, "
            "mixing='head_groups'))"
        ),
        paths=(
            "dilated_attention_pytorch.base.head_parallel_dilated_attention_optimized.HeadParallelMultiheadDilatedAttentionOptimized",
        ),
        params=(
            Param(name="embed_dim"),
            Param(name="num_heads"),
            Param(name="segment_lengths"),
            Param(name="dilation_rates"),
            Param(name="dropout", default=0.0),
            Param(name="bias", default=True),
            Param(name="device", default=None),
            Param(name="dtype", default=None),
            Param(name="kwargs", role="ignored", kind="var_keyword"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.MultiheadAttention",
                args=(
                    Arg(source="embed_dim"),
                    Arg(source="num_heads"),
                    Arg(value="<pattern>"),
                    Arg(keyword="bias", source="bias"),
                    Arg(keyword="dropout", source="dropout"),
                    Arg(keyword="device", source="device"),
                    Arg(keyword="dtype", source="dtype"),
                ),
                pattern="ringlib.Dilated",
                pattern_args=_HEAD_GROUPS,
                safe=False,
                reason=_RETURNS_TUPLE,
            ),
        },
        divergences=(
            HEAD_PARALLEL_NEVER_RAN,
        ),
        checkpoint=KeyMap(origin="shim"),
        counted=False,
    ),
    LegacyName(
        name="DilatedTransformerEncoderLayer",
        kind="class",
        family="models",
        numerics="preserve",
        profile="pre-norm layer around the old MultiheadDilatedAttention",
        replacement=(
            "ringlib.models.TransformerEncoderLayer(d_model, nhead, ringlib.Dilated(segment_lengths, dilation_rates, "
            "mixing='head_groups')) (old checkpoints: load_legacy_state_dict maps the keys)"
        ),
        paths=(
            "dilated_attention_pytorch.DilatedTransformerEncoderLayer",
            "dilated_attention_pytorch.models.DilatedTransformerEncoderLayer",
            "dilated_attention_pytorch.models.transformer.DilatedTransformerEncoderLayer",
            "dilated_attention_pytorch.models.long_net.DilatedTransformerEncoderLayer",
        ),
        params=(
            Param(name="d_model"),
            Param(name="nhead"),
            Param(name="segment_lengths"),
            Param(name="dilation_rates"),
            Param(name="dim_feedforward", default=2048),
            Param(name="dropout", default=0.1),
            Param(name="activation", default="relu"),
            Param(name="layer_norm_eps", default=1e-05),
            Param(name="gamma_init", default=1.0),
            Param(name="device", default=None),
            Param(name="dtype", default=None),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.models.TransformerEncoderLayer",
                args=(
                    Arg(source="d_model"),
                    Arg(source="nhead"),
                    Arg(value="<pattern>"),
                    *_MODEL_OPTIONS,
                    Arg(keyword="gamma_init", source="gamma_init"),
                    *_DEVICE,
                ),
                pattern="ringlib.Dilated",
                pattern_args=_HEAD_GROUPS,
                reason=MODEL_FORWARD,
            ),
        },
        divergences=(
            _MODEL_TRAINING,
        ),
        checkpoint=ENCODER_LAYER,
        counted=False,
    ),
    LegacyName(
        name="DilatedTransformerDecoderLayer",
        kind="class",
        family="models",
        numerics="preserve",
        profile="pre-norm layer around two old MultiheadDilatedAttention",
        replacement=(
            "ringlib.models.TransformerDecoderLayer(d_model, nhead, ringlib.Dilated(segment_lengths, dilation_rates, "
            "mixing='head_groups'), self_attn_norms=False) (old checkpoints: load_legacy_state_dict maps the keys)"
        ),
        paths=(
            "dilated_attention_pytorch.DilatedTransformerDecoderLayer",
            "dilated_attention_pytorch.models.DilatedTransformerDecoderLayer",
            "dilated_attention_pytorch.models.transformer.DilatedTransformerDecoderLayer",
            "dilated_attention_pytorch.models.long_net.DilatedTransformerDecoderLayer",
        ),
        params=(
            Param(name="d_model"),
            Param(name="nhead"),
            Param(name="segment_lengths"),
            Param(name="dilation_rates"),
            Param(name="dim_feedforward", default=2048),
            Param(name="dropout", default=0.1),
            Param(name="activation", default="relu"),
            Param(name="layer_norm_eps", default=1e-05),
            Param(name="gamma_init", default=1.0),
            Param(name="device", default=None),
            Param(name="dtype", default=None),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.models.TransformerDecoderLayer",
                args=(
                    Arg(source="d_model"),
                    Arg(source="nhead"),
                    Arg(value="<pattern>"),
                    *_MODEL_OPTIONS,
                    Arg(keyword="gamma_init", source="gamma_init"),
                    Arg(keyword="self_attn_norms", value="False"),
                    *_DEVICE,
                ),
                pattern="ringlib.Dilated",
                pattern_args=_HEAD_GROUPS,
                reason=MODEL_FORWARD,
            ),
        },
        divergences=(
            _MODEL_TRAINING,
        ),
        checkpoint=DECODER_LAYER,
        counted=False,
    ),
    LegacyName(
        name="LongNet",
        kind="class",
        family="models",
        numerics="preserve",
        profile="encoder-decoder of the old transformer layers",
        replacement=(
            "ringlib.models.LongNet(d_model, nhead, ringlib.Dilated(segment_lengths, dilation_rates, "
            "mixing='head_groups'), decoder_self_attn_norms=False) (old checkpoints: load_legacy_state_dict maps the keys)"
        ),
        paths=(
            "dilated_attention_pytorch.LongNet",
            "dilated_attention_pytorch.models.LongNet",
            "dilated_attention_pytorch.models.long_net.LongNet",
            "dilated_attention_pytorch.long_net.LongNet",
        ),
        params=_LONG_NET_PARAMS,
        rewrites={
            "preserve": Rewrite(
                target="ringlib.models.LongNet",
                args=(
                    Arg(source="d_model", omit_if_default=False),
                    Arg(source="nhead", omit_if_default=False),
                    Arg(value="<pattern>"),
                    *_LONG_NET_OPTIONS,
                ),
                pattern="ringlib.Dilated",
                pattern_args=_HEAD_GROUPS_ALWAYS,
                reason=MODEL_FORWARD,
            ),
        },
        divergences=(
            _MODEL_TRAINING,
        ),
        checkpoint=LONG_NET,
        counted=False,
    ),
    LegacyName(
        name="LongNetLM",
        kind="class",
        family="models",
        numerics="preserve",
        profile="embedding + xPos (no torchscale needed) + LongNet + LayerNorm + vocabulary projection",
        replacement=(
            "ringlib.models.LongNetLM(num_tokens, d_model, nhead, ringlib.Dilated(segment_lengths, dilation_rates, "
            "mixing='head_groups'), decoder_self_attn_norms=False) (old checkpoints: load_legacy_state_dict maps the keys)"
        ),
        paths=(
            "dilated_attention_pytorch.models.long_net.LongNetLM",
            "dilated_attention_pytorch.long_net.LongNetLM",
        ),
        params=(
            Param(name="num_tokens"),
            *_LONG_NET_PARAMS,
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.models.LongNetLM",
                args=(
                    Arg(source="num_tokens"),
                    Arg(source="d_model", omit_if_default=False),
                    Arg(source="nhead", omit_if_default=False),
                    Arg(value="<pattern>"),
                    *_LONG_NET_OPTIONS,
                ),
                pattern="ringlib.Dilated",
                pattern_args=_HEAD_GROUPS_ALWAYS,
                reason=MODEL_FORWARD,
            ),
        },
        divergences=(
            _MODEL_TRAINING,
        ),
        checkpoint=LONG_NET_LM,
        counted=False,
    ),
    LegacyName(
        name="DynamicDilatedAttention",
        kind="class",
        family="dilated",
        numerics="preserve",
        profile=(
            "segments chosen per input shape; HEAD_AXIS: the heads of group i attend to each other at each selected "
            "row (rows i % r, i % r + r, ... of every segment), sum / G (improved=True) or "
            "Dilated(mixing='head_groups')"
        ),
        replacement=f"ringlib.DilatedAttention({SEGMENTS_PER_CALL})",
        paths=(
            "dilated_attention_pytorch.DynamicDilatedAttention",
            "dilated_attention_pytorch.dynamic_dilated_attention.DynamicDilatedAttention",
        ),
        params=(
            Param(name="min_segment_size", default=512),
            Param(name="max_segment_size", default=65536),
            Param(name="selector_config", default=None, role="unsupported"),
            Param(name="fallback_segments", default=None, role="ignored",
                  note="used only where the segment choice raised, which it does not for a non-empty sequence"),
            Param(name="improved", default=True),
            Param(name="kwargs", role="unsupported", kind="var_keyword",
                  note="forwarded to the attention class (dropout, ...)"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.DilatedAttention",
                args=(Arg(value="<pattern>"),),
                pattern="ringlib.compat.SegmentsPerCall",
                pattern_args=(
                    _FIT_SEGMENTS,
                    Arg(keyword="core", source="improved",
                        choose={"True": "ringlib.compat.HeadAxis", "False": _HEAD_GROUPS_CORE}),
                ),
            ),
            "intended": Rewrite(
                target="ringlib.DilatedAttention",
                args=(Arg(value="<pattern>"),),
                pattern="ringlib.compat.SegmentsPerCall",
                pattern_args=(_FIT_SEGMENTS, Arg(keyword="core", value=_HEAD_GROUPS_CORE)),
            ),
        },
        divergences=(
            CHOICE_DEVICE,
            IMPROVED_INTENDED,
        ),
        counted=False,
    ),
    LegacyName(
        name="DynamicMultiheadDilatedAttention",
        kind="class",
        family="dilated",
        numerics="preserve",
        profile="DynamicDilatedAttention inside q/k/v/out projections; returns (out, uniform placeholder weights)",
        replacement=(
            "ringlib.MultiheadAttention(embed_dim, num_heads, ringlib.compat.SegmentsPerCall()) (q_proj/k_proj/v_proj/"
            "out_proj load as they are; SegmentsPerCall(ringlib.compat.FitSegments(min_segment_size, "
            "max_segment_size)) where the old call passed them)"
        ),
        paths=(
            "dilated_attention_pytorch.DynamicMultiheadDilatedAttention",
            "dilated_attention_pytorch.dynamic_dilated_attention.DynamicMultiheadDilatedAttention",
        ),
        params=(
            Param(name="embed_dim"),
            Param(name="num_heads"),
            Param(name="dropout", default=0.0),
            Param(name="bias", default=True),
            Param(name="selector_config", default=None, role="unsupported"),
            Param(name="kwargs", role="unsupported", kind="var_keyword",
                  note="forwarded to DynamicDilatedAttention (min_segment_size, improved, ...)"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.MultiheadAttention",
                args=_DYNAMIC_MULTIHEAD_ARGS,
                pattern="ringlib.compat.SegmentsPerCall",
                safe=False,
                reason=_PLACEHOLDER_WEIGHTS,
            ),
            "intended": Rewrite(
                target="ringlib.MultiheadAttention",
                args=_DYNAMIC_MULTIHEAD_ARGS,
                pattern="ringlib.compat.SegmentsPerCall",
                pattern_args=(Arg(keyword="core", value=_HEAD_GROUPS_CORE),),
                safe=False,
                reason=_PLACEHOLDER_WEIGHTS,
            ),
        },
        divergences=(
            DOUBLE_DROPOUT,
            CHOICE_DEVICE,
            IMPROVED_INTENDED,
        ),
        checkpoint=SEPARATE_PROJECTIONS,
        counted=False,
    ),
    LegacyName(
        name="create_dynamic_dilated_attention",
        kind="function",
        family="dilated",
        numerics="preserve",
        profile="DynamicDilatedAttention",
        replacement=f"ringlib.DilatedAttention({SEGMENTS_PER_CALL})",
        paths=(
            "dilated_attention_pytorch.create_dynamic_dilated_attention",
            "dilated_attention_pytorch.dynamic_dilated_attention.create_dynamic_dilated_attention",
        ),
        counted=False,
    ),
    LegacyName(
        name="create_dilated_attention",
        kind="function",
        family="dilated",
        numerics="intended",
        profile="'auto'/'improved' -> ImprovedDilatedAttention, 'standard' -> DilatedAttention",
        replacement="ringlib.DilatedAttention(ringlib.Dilated(segment_lengths, dilation_rates, mixing='head_groups'))",
        paths=(
            "dilated_attention_pytorch.create_dilated_attention",
            "dilated_attention_pytorch.core.create_dilated_attention",
            "dilated_attention_pytorch.core.factory.create_dilated_attention",
        ),
        divergences=(
            FACTORY_NEVER_RAN,
        ),
        counted=False,
    ),
    LegacyName(
        name="create_multihead_dilated_attention",
        kind="function",
        family="dilated",
        numerics="intended",
        profile=(
            "'auto'/'improved' -> ImprovedMultiheadDilatedAttention, 'standard' -> MultiheadDilatedAttention, "
            "'block_sparse_ring' -> BlockSparseRingMultiheadDilatedAttention"
        ),
        replacement=(
            "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.Dilated(segment_lengths, dilation_rates))"
        ),
        paths=(
            "dilated_attention_pytorch.create_multihead_dilated_attention",
            "dilated_attention_pytorch.core.create_multihead_dilated_attention",
            "dilated_attention_pytorch.core.factory.create_multihead_dilated_attention",
        ),
        divergences=(
            FACTORY_NEVER_RAN,
        ),
        counted=False,
    ),
    LegacyName(
        name="create_block_sparse_attention",
        kind="function",
        family="sparse",
        numerics="intended",
        profile="BlockSparseRingMultiheadDilatedAttention",
        replacement="ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.BlockSparse(...))",
        paths=(
            "dilated_attention_pytorch.core.create_block_sparse_attention",
            "dilated_attention_pytorch.core.factory.create_block_sparse_attention",
        ),
        divergences=(
            Divergence(
                what=(
                    "the old code raised on every call (ValueError: Unknown attention type 'block_sparse_ring'); the "
                    "shim builds what its docstring describes"
                ),
                measured="old: ValueError",
            ),
        ),
        counted=False,
        key="create_block_sparse_attention@core",
    ),
    LegacyName(
        name="register_attention",
        kind="function",
        family="dilated",
        numerics="preserve",
        profile="helper",
        replacement="nothing (build the ringlib module you want directly)",
        paths=(
            "dilated_attention_pytorch.core.register_attention",
            "dilated_attention_pytorch.core.factory.register_attention",
        ),
        counted=False,
    ),
    LegacyName(
        name="register_multihead_attention",
        kind="function",
        family="dilated",
        numerics="preserve",
        profile="helper",
        replacement="nothing (build the ringlib module you want directly)",
        paths=(
            "dilated_attention_pytorch.core.register_multihead_attention",
            "dilated_attention_pytorch.core.factory.register_multihead_attention",
        ),
        counted=False,
    ),
)
