"""Rows of the old base class ``DilatedAttention`` (the LongNet layer of ``dilated_attention_pytorch``)."""

from __future__ import annotations

from ringlib_legacy.schema import Arg, Divergence, LegacyName, Param, Rewrite

ROWS: tuple[LegacyName, ...] = (
    LegacyName(
        name="DilatedAttention",
        kind="class",
        family="dilated",
        numerics="preserve",
        profile="Dilated(mixing='head_groups')",
        replacement=(
            "ringlib.DilatedAttention(ringlib.Dilated(segment_lengths, dilation_rates, mixing='head_groups'))"
        ),
        paths=(
            "dilated_attention_pytorch.DilatedAttention",
            "dilated_attention_pytorch.dilated_attention.DilatedAttention",
        ),
        params=(
            Param(name="segment_lengths"),
            Param(name="dilation_rates"),
            Param(name="softmax_scale", default=None),
            Param(name="attention_dropout", default=0.0),
            Param(name="op", default=None, role="ignored"),
            Param(name="enable_memory_pool", default=True, role="ignored"),
            Param(name="enable_profiling", default=False, role="ignored"),
            Param(name="lightweight_pool", default=True, role="ignored"),
            Param(name="kwargs", role="ignored", kind="var_keyword"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.DilatedAttention",
                args=(
                    Arg(value="<pattern>"),
                    Arg(keyword="scale", source="softmax_scale"),
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
                    Arg(keyword="scale", source="softmax_scale"),
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
            Divergence(
                what=(
                    "--semantics intended mixes the pairs by log-sum-exp with per-head offsets (LongNet) "
                    "instead of head groups divided by the group count"
                ),
                measured="different semantics (not a bug fix)",
                applies="intended",
            ),
        ),
        counted=False,
    ),
)
