"""Rows of ``dilated_attention_pytorch.ring.base``: the x -> x ring classes and their helpers."""

from __future__ import annotations

from ringlib_legacy.schema import Arg, Divergence, KeyMap, LegacyName, Param, Rewrite, SAME_KEYS
from ringlib_legacy.rows.common import (
    DTYPE_CAST,
    FIRST_SEGMENT_INTENDED,
    NO_BACKWARD,
    REGIONS_INTENDED,
    RING_PASS,
    X_FORWARD,
)

ROWS: tuple[LegacyName, ...] = (
    LegacyName(
        name="RingDilatedAttentionCorrect",
        checkpoint=SAME_KEYS,
        kind="class",
        family="ring/base",
        numerics="preserve",
        profile="REGIONS(snake iff use_hilbert)",
        replacement=(
            "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, "
            "ringlib.compat.Regions(segment_lengths, dilation_rates), ordering='snake')"
        ),
        paths=(
            "dilated_attention_pytorch.ring.RingDilatedAttentionCorrect",
            "dilated_attention_pytorch.ring.base.RingDilatedAttentionCorrect",
            "dilated_attention_pytorch.ring.base.ring_dilated_attention_correct.RingDilatedAttentionCorrect",
            "dilated_attention_pytorch.ring.RingDilatedAttention",
            "dilated_attention_pytorch.ring.RingDilatedAttentionProduction",
            "dilated_attention_pytorch.ring_dilated_attention_correct.RingDilatedAttentionCorrect",
        ),
        params=(
            Param(name="embed_dim"),
            Param(name="num_heads"),
            Param(name="segment_lengths"),
            Param(name="dilation_rates"),
            Param(name="dropout", default=0.0),
            Param(name="bias", default=True),
            Param(name="use_hilbert", default=True, note="REGIONS ordering: 'snake' if True"),
            Param(name="device", default=None, note="None -> cuda if available"),
            Param(name="dtype", default=None, note="None -> bf16/fp16 on GPU, fp32 on CPU"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.MultiheadDilatedAttention",
                args=(
                    Arg(source="embed_dim"),
                    Arg(source="num_heads"),
                    Arg(value="<pattern>"),
                    Arg(keyword="bias", source="bias"),
                    Arg(keyword="dropout", source="dropout"),
                    Arg(keyword="output_dropout", source="dropout"),
                    Arg(
                        keyword="ordering",
                        source="use_hilbert",
                        choose={"True": "'snake'", "False": "None"},
                        omit_if_default=False,
                    ),
                    Arg(keyword="device", source="device"),
                    Arg(keyword="dtype", source="dtype"),
                ),
                pattern="ringlib.compat.Regions",
                pattern_args=(
                    Arg(source="segment_lengths"),
                    Arg(source="dilation_rates"),
                ),
                reason=X_FORWARD,
            ),
            "intended": Rewrite(
                target="ringlib.MultiheadDilatedAttention",
                args=(
                    Arg(source="embed_dim"),
                    Arg(source="num_heads"),
                    Arg(value="<pattern>"),
                    Arg(keyword="bias", source="bias"),
                    Arg(keyword="dropout", source="dropout"),
                    Arg(keyword="output_dropout", source="dropout"),
                    Arg(keyword="device", source="device"),
                    Arg(keyword="dtype", source="dtype"),
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
                    "causal: the old class masked only residue class 0 of dilated regions, in snake order;"
                    " the shim is token-correct"
                ),
                measured=(
                    "golden config, legacy vs token-correct: 0.93 max-abs; L=1024 H=4 legacy snake on "
                    "vs off under causal: 0.40"
                ),
            ),
            NO_BACKWARD,
            Divergence(
                what=(
                    "distributed: the old class crashed (non-contiguous irecv); patched, it merged ring "
                    "steps without renormalisation and produced NaN outside every region; the shim is "
                    "exact (SHARD)"
                ),
                measured="0.139 off single process; NaN for 25% of outputs at L=1024",
            ),
            DTYPE_CAST,
            REGIONS_INTENDED,
        ),
    ),
    LegacyName(
        name="RingAttentionWrapper",
        checkpoint=KeyMap(rename={"attention.": ""}),
        kind="class",
        family="ring/base",
        numerics="preserve",
        profile="REGIONS(snake iff use_hilbert)",
        replacement=(
            "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, "
            "ringlib.compat.Regions(segment_lengths, dilation_rates), ordering='snake') (state_dict"
            " keys lose the 'attention.' prefix)"
        ),
        paths=(
            "dilated_attention_pytorch.ring.RingAttentionWrapper",
            "dilated_attention_pytorch.ring.base.RingAttentionWrapper",
            "dilated_attention_pytorch.ring.base.ring_dilated_attention_correct.RingAttentionWrapper",
            "dilated_attention_pytorch.ring_dilated_attention_correct.RingAttentionWrapper",
        ),
        params=(
            Param(name="embed_dim"),
            Param(name="num_heads"),
            Param(name="segment_lengths"),
            Param(name="dilation_rates"),
            Param(
                name="kwargs",
                kind="var_keyword",
                note=("dropout, bias, use_hilbert, device, dtype of RingDilatedAttentionCorrect"),
            ),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.MultiheadDilatedAttention",
                args=(
                    Arg(source="embed_dim"),
                    Arg(source="num_heads"),
                    Arg(value="<pattern>"),
                    Arg(keyword="ordering", value="'snake'", omit_if_default=False),
                ),
                pattern="ringlib.compat.Regions",
                pattern_args=(
                    Arg(source="segment_lengths"),
                    Arg(source="dilation_rates"),
                ),
                safe=False,
                reason=(
                    "state_dict keys carry an 'attention.' prefix and **kwargs are forwarded; migrate by"
                    " hand (strip the prefix when loading old checkpoints)"
                ),
            ),
            "intended": Rewrite(
                target="ringlib.MultiheadDilatedAttention",
                args=(
                    Arg(source="embed_dim"),
                    Arg(source="num_heads"),
                    Arg(value="<pattern>"),
                ),
                pattern="ringlib.Dilated",
                pattern_args=(
                    Arg(source="segment_lengths"),
                    Arg(source="dilation_rates"),
                ),
                safe=False,
                reason="state_dict keys carry an 'attention.' prefix",
            ),
        },
        divergences=(
            Divergence(
                what="causal leak of the old class is not reproduced (token-correct)",
                measured="golden config, legacy vs token-correct: 0.93 max-abs",
            ),
            NO_BACKWARD,
            Divergence(
                what="distributed: contiguity crash in the old class; the shim is exact (SPLIT)",
                measured="old: RuntimeError",
            ),
            REGIONS_INTENDED,
        ),
    ),
    LegacyName(
        name="RingDilatedAttentionV3",
        checkpoint=SAME_KEYS,
        kind="class",
        family="ring/base",
        numerics="preserve",
        profile="FIRST_SEGMENT(v3)",
        replacement=(
            "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, "
            "ringlib.compat.FirstSegment(segment_lengths, dilation_rates, variant='v3'))"
        ),
        paths=(
            "dilated_attention_pytorch.ring.RingDilatedAttentionV3",
            "dilated_attention_pytorch.ring.base.RingDilatedAttentionV3",
            "dilated_attention_pytorch.ring.base.ring_dilated_attention_v3.RingDilatedAttentionV3",
            "dilated_attention_pytorch.ring_dilated_attention_v3.RingDilatedAttentionV3",
        ),
        params=(
            Param(name="embed_dim"),
            Param(name="num_heads"),
            Param(name="segment_lengths"),
            Param(name="dilation_rates"),
            Param(name="dropout", default=0.0),
            Param(name="bias", default=True),
            Param(name="use_hilbert", default=True, role="ignored", note="accepted, no effect"),
            Param(name="device", default=None, note="None -> cuda if available"),
            Param(name="dtype", default=None, note="None -> float32"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.MultiheadDilatedAttention",
                args=(
                    Arg(source="embed_dim"),
                    Arg(source="num_heads"),
                    Arg(value="<pattern>"),
                    Arg(keyword="bias", source="bias"),
                    Arg(keyword="dropout", source="dropout"),
                    Arg(keyword="output_dropout", source="dropout"),
                    Arg(keyword="device", source="device"),
                    Arg(keyword="dtype", source="dtype"),
                ),
                pattern="ringlib.compat.FirstSegment",
                pattern_args=(
                    Arg(source="segment_lengths"),
                    Arg(source="dilation_rates"),
                    Arg(keyword="variant", value="'v3'", omit_if_default=False),
                ),
                reason=X_FORWARD,
            ),
            "intended": Rewrite(
                target="ringlib.MultiheadDilatedAttention",
                args=(
                    Arg(source="embed_dim"),
                    Arg(source="num_heads"),
                    Arg(value="<pattern>"),
                    Arg(keyword="bias", source="bias"),
                    Arg(keyword="dropout", source="dropout"),
                    Arg(keyword="output_dropout", source="dropout"),
                    Arg(keyword="device", source="device"),
                    Arg(keyword="dtype", source="dtype"),
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
                    "distributed: the old class applied the first-segment rule per shard and merged "
                    "through the broken RingAttentionFunction; the shim is exact on the global sequence"
                ),
                measured="gathered vs single process 2.55 (W=2), 2.73 (W=4); causal 7.3e5",
            ),
            FIRST_SEGMENT_INTENDED,
        ),
    ),
    LegacyName(
        name="RingDilatedAttentionSDPA",
        checkpoint=SAME_KEYS,
        kind="class",
        family="ring/base",
        numerics="preserve",
        profile="FIRST_SEGMENT(sdpa)",
        replacement=(
            "ringlib.MultiheadDilatedAttention(embed_dim, num_heads, "
            "ringlib.compat.FirstSegment(segment_lengths, dilation_rates, variant='sdpa'))"
        ),
        paths=(
            "dilated_attention_pytorch.ring.RingDilatedAttentionSDPA",
            "dilated_attention_pytorch.ring.base.RingDilatedAttentionSDPA",
            "dilated_attention_pytorch.ring.base.ring_dilated_attention_sdpa.RingDilatedAttentionSDPA",
            "dilated_attention_pytorch.ring_dilated_attention_sdpa.RingDilatedAttentionSDPA",
        ),
        params=(
            Param(name="embed_dim"),
            Param(name="num_heads"),
            Param(name="segment_lengths"),
            Param(name="dilation_rates"),
            Param(name="dropout", default=0.0),
            Param(name="bias", default=True),
            Param(name="device", default=None, note="None -> cuda if available"),
            Param(
                name="dtype", default=None, note=("None -> float16 on GPUs >= sm70, fp32 on CPU; input cast to it")
            ),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.MultiheadDilatedAttention",
                args=(
                    Arg(source="embed_dim"),
                    Arg(source="num_heads"),
                    Arg(value="<pattern>"),
                    Arg(keyword="bias", source="bias"),
                    Arg(keyword="dropout", source="dropout"),
                    Arg(keyword="output_dropout", source="dropout"),
                    Arg(keyword="device", source="device"),
                    Arg(keyword="dtype", source="dtype"),
                ),
                pattern="ringlib.compat.FirstSegment",
                pattern_args=(
                    Arg(source="segment_lengths"),
                    Arg(source="dilation_rates"),
                    Arg(keyword="variant", value="'sdpa'", omit_if_default=False),
                ),
                reason=X_FORWARD,
            ),
            "intended": Rewrite(
                target="ringlib.MultiheadDilatedAttention",
                args=(
                    Arg(source="embed_dim"),
                    Arg(source="num_heads"),
                    Arg(value="<pattern>"),
                    Arg(keyword="bias", source="bias"),
                    Arg(keyword="dropout", source="dropout"),
                    Arg(keyword="output_dropout", source="dropout"),
                    Arg(keyword="device", source="device"),
                    Arg(keyword="dtype", source="dtype"),
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
                    "distributed: the old class averaged per-rank outputs with weight 1/W and lost remote "
                    "K/V gradients; the shim is exact"
                ),
                measured="0.061 (W=2), 0.123 (W=4) off single process",
            ),
            FIRST_SEGMENT_INTENDED,
        ),
    ),
    LegacyName(
        name="RingDilatedAttentionFixedSimple",
        checkpoint=SAME_KEYS,
        kind="class",
        family="ring/base",
        numerics="preserve",
        profile="DENSE(non-causal)",
        replacement="ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.Dense())",
        paths=(
            "dilated_attention_pytorch.ring.RingDilatedAttentionFixedSimple",
            "dilated_attention_pytorch.ring.base.RingDilatedAttentionFixedSimple",
            "dilated_attention_pytorch.ring.base.ring_dilated_attention_fixed_simple.RingDilatedAttentionFixedSimple",
            "dilated_attention_pytorch.ring_dilated_attention_fixed_simple.RingDilatedAttentionFixedSimple",
        ),
        params=(
            Param(name="embed_dim"),
            Param(name="num_heads"),
            Param(name="dropout", default=0.0),
            Param(name="device", default=None, note="None -> cuda if available"),
            Param(name="dtype", default=None, note="None -> float32"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.MultiheadDilatedAttention",
                args=(
                    Arg(source="embed_dim"),
                    Arg(source="num_heads"),
                    Arg(value="<pattern>"),
                    Arg(keyword="dropout", source="dropout"),
                    Arg(keyword="output_dropout", source="dropout"),
                    Arg(keyword="device", source="device"),
                    Arg(keyword="dtype", source="dtype"),
                ),
                pattern="ringlib.Dense",
                reason=X_FORWARD,
            ),
        },
        divergences=(
            Divergence(
                what=(
                    "distributed: the old class averaged per-chunk softmaxes; the shim is exact dense attention"
                ),
                measured="2.3e-3 (W=2), 4.5e-3 (W=4) off dense",
            ),
        ),
    ),
    LegacyName(
        name="RingDilatedAttentionMemoryEfficient",
        checkpoint=SAME_KEYS,
        kind="class",
        family="ring/base",
        numerics="preserve",
        profile="DENSE",
        replacement="ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.Dense())",
        paths=(
            "dilated_attention_pytorch.ring.RingDilatedAttentionMemoryEfficient",
            "dilated_attention_pytorch.ring.base.RingDilatedAttentionMemoryEfficient",
            "dilated_attention_pytorch.ring.base.ring_dilated_attention_memory_efficient.RingDilatedAttentionMemoryEfficient",
            "dilated_attention_pytorch.ring_dilated_attention_memory_efficient.RingDilatedAttentionMemoryEfficient",
        ),
        params=(
            Param(name="embed_dim"),
            Param(name="num_heads"),
            Param(name="segment_lengths", default=None, role="ignored"),
            Param(name="dilation_rates", default=None, role="ignored"),
            Param(name="dropout", default=0.0),
            Param(name="bias", default=True),
            Param(name="device", default=None, note="None -> cuda if available"),
            Param(name="dtype", default=None, note="None -> float32"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.MultiheadDilatedAttention",
                args=(
                    Arg(source="embed_dim"),
                    Arg(source="num_heads"),
                    Arg(value="<pattern>"),
                    Arg(keyword="bias", source="bias"),
                    Arg(keyword="dropout", source="dropout"),
                    Arg(keyword="output_dropout", source="dropout"),
                    Arg(keyword="device", source="device"),
                    Arg(keyword="dtype", source="dtype"),
                ),
                pattern="ringlib.Dense",
                reason=X_FORWARD,
            ),
        },
        divergences=(
            Divergence(
                what=(
                    "distributed: the old memory_efficient_ring_attention was wrong and its backward "
                    "returned all-zero gradients; the shim is exact"
                ),
                measured="0.0996 (W=2), 0.111 (W=4) off single process; causal 0.276; old gradients all zero",
            ),
        ),
    ),
    LegacyName(
        name="ring_pass_kv_safe",
        key="ring_pass_kv_safe@sdpa",
        kind="function",
        family="ring/base",
        numerics="preserve",
        profile="helper",
        replacement=RING_PASS,
        paths=(
            "dilated_attention_pytorch.ring.base.ring_dilated_attention_sdpa.ring_pass_kv_safe",
            "dilated_attention_pytorch.ring_dilated_attention_sdpa.ring_pass_kv_safe",
        ),
        counted=False,
    ),
    LegacyName(
        name="safe_ring_pass",
        key="safe_ring_pass@fixed_simple",
        kind="function",
        family="ring/base",
        numerics="preserve",
        profile="helper",
        replacement=RING_PASS,
        paths=(
            "dilated_attention_pytorch.ring.base.ring_dilated_attention_fixed_simple.safe_ring_pass",
            "dilated_attention_pytorch.ring_dilated_attention_fixed_simple.safe_ring_pass",
        ),
        counted=False,
    ),
    LegacyName(
        name="ring_pass_forward",
        kind="function",
        family="ring/base",
        numerics="preserve",
        profile="helper",
        replacement=RING_PASS,
        paths=(
            "dilated_attention_pytorch.ring.base.ring_dilated_attention_correct.ring_pass_forward",
            "dilated_attention_pytorch.ring.hilbert.ring_dilated_attention_hilbert_core.ring_pass_forward",
            "dilated_attention_pytorch.ring.hilbert.ring_dilated_attention_hilbert_optimized_correct.ring_pass_forward",
            "dilated_attention_pytorch.ring_dilated_attention_correct.ring_pass_forward",
            "dilated_attention_pytorch.ring_dilated_attention_hilbert_core.ring_pass_forward",
            "dilated_attention_pytorch.ring_dilated_attention_hilbert_optimized_correct.ring_pass_forward",
        ),
        counted=False,
    ),
)
