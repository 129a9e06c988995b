"""Rows of ``dilated_attention_pytorch.sparse``: the block-sparse classes, their configs and factories."""

from __future__ import annotations

from ringlib_legacy.schema import SAME_KEYS, Arg, Divergence, KeyMap, LegacyName, Param, Rewrite
from ringlib_legacy.rows.common import (
    ADAPTIVE_SELECTION,
    BLOCK_SUM_INTENDED,
    QKV_FORWARD,
    SEPARATE_PROJECTIONS,
)

ROWS: tuple[LegacyName, ...] = (
    LegacyName(
        name="BlockSparseRingDistributedDilatedAttention",
        checkpoint=KeyMap(
            loads=False,
            origin="shim",
            reason="0.2 could not build this class (its constructor raised), so only shim checkpoints exist; in "
            "those, attention_core.* was never used and the pattern_seed buffer is the seed of the random "
            "hierarchical layout, which the replacement takes as a value (ringlib.DilatedAttention holds no state): "
            "keep the shim class to reuse a saved seed",
        ),
        kind="class",
        family="sparse",
        numerics="intended",
        profile="BLOCK_ROW(HIERARCHICAL pattern, exact)",
        replacement=(
            "ringlib.DilatedAttention(ringlib.BlockSparse(layout, block_size=distributed_config.block_size))"
        ),
        paths=(
            "dilated_attention_pytorch.BlockSparseRingDistributedDilatedAttention",
            "dilated_attention_pytorch.sparse.BlockSparseRingDistributedDilatedAttention",
            "dilated_attention_pytorch.sparse.block_sparse_ring_distributed_dilated_attention.BlockSparseRingDistributedDilatedAttention",
            "dilated_attention_pytorch.sparse.block_sparse_factory.BlockSparseRingDistributedDilatedAttention",
            "dilated_attention_pytorch.block_sparse_ring_distributed_dilated_attention.BlockSparseRingDistributedDilatedAttention",
            "dilated_attention_pytorch.block_sparse_factory.BlockSparseRingDistributedDilatedAttention",
        ),
        params=(
            Param(name="embed_dim"),
            Param(name="num_heads"),
            Param(name="segment_lengths", role="ignored"),
            Param(name="dilation_rates", role="ignored"),
            Param(name="distributed_config", default=None, role="unsupported"),
            Param(name="enable_deepspeed_integration", default=True, role="ignored"),
            Param(name="enable_apex_optimization", default=True, role="ignored"),
            Param(name="monitoring_interval", default=100, role="ignored"),
            Param(name="kwargs", role="ignored", kind="var_keyword"),
            Param(
                name="pattern_seed",
                default=None,
                kind="keyword_only",
                note="shim extension: seed of the pattern generator",
            ),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.DilatedAttention",
                args=(Arg(value="<pattern>"),),
                pattern="ringlib.BlockSparse",
                safe=False,
                reason=(
                    "the hierarchical random layout comes from distributed_config and pattern_seed: "
                    "migrate by hand"
                ),
            ),
        },
        divergences=(
            Divergence(
                what=(
                    "the old constructor always raised `ValueError: Unknown attention type 'improved'`; "
                    "worked around, it summed per-block softmaxes with level weights, leaked future tokens"
                    " and had no communication; the shim is exact row-softmax block-sparse attention"
                ),
                measured="old 0.80 off masked attention over its own mask",
            ),
        ),
    ),
    LegacyName(
        name="BlockSparseRingDilatedAttention",
        kind="class",
        family="sparse",
        numerics="preserve",
        profile="BLOCK_SUM(config pattern)",
        replacement=(
            "ringlib.DilatedAttention(ringlib.BlockSparse(pattern_type, block_size=..., "
            "normalization='per_block_sum'))"
        ),
        paths=(
            "dilated_attention_pytorch.BlockSparseRingDilatedAttention",
            "dilated_attention_pytorch.sparse.BlockSparseRingDilatedAttention",
            "dilated_attention_pytorch.sparse.block_sparse_ring_dilated_attention.BlockSparseRingDilatedAttention",
            "dilated_attention_pytorch.sparse.block_sparse_ring_dilated_attention_fixed.BlockSparseRingDilatedAttention",
            "dilated_attention_pytorch.sparse.block_sparse_ring_dilated_attention_hilbert_post_pattern.BlockSparseRingDilatedAttention",
            "dilated_attention_pytorch.sparse.block_sparse_ring_multihead_dilated_attention.BlockSparseRingDilatedAttention",
            "dilated_attention_pytorch.sparse.block_sparse_adaptive.BlockSparseRingDilatedAttention",
            "dilated_attention_pytorch.sparse.block_sparse_factory.BlockSparseRingDilatedAttention",
            "dilated_attention_pytorch.block_sparse_ring_dilated_attention.BlockSparseRingDilatedAttention",
            "dilated_attention_pytorch.block_sparse_ring_dilated_attention_fixed.BlockSparseRingDilatedAttention",
            "dilated_attention_pytorch.block_sparse_ring_dilated_attention_hilbert_post_pattern.BlockSparseRingDilatedAttention",
            "dilated_attention_pytorch.block_sparse_ring_multihead_dilated_attention.BlockSparseRingDilatedAttention",
            "dilated_attention_pytorch.block_sparse_adaptive.BlockSparseRingDilatedAttention",
            "dilated_attention_pytorch.block_sparse_factory.BlockSparseRingDilatedAttention",
        ),
        params=(
            Param(name="segment_lengths", role="ignored"),
            Param(name="dilation_rates", role="ignored"),
            Param(
                name="sparse_config",
                default=None,
                role="unsupported",
                note="SparsePatternConfig -> the BlockSparse layout",
            ),
            Param(name="enable_batched_ops", default=True, role="ignored"),
            Param(name="pattern_cache_size", default=100, role="ignored"),
            Param(name="kwargs", role="ignored", kind="var_keyword"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.DilatedAttention",
                args=(Arg(value="<pattern>"),),
                pattern="ringlib.BlockSparse",
                safe=False,
                reason="the layout comes from a SparsePatternConfig object: migrate by hand",
            ),
            "intended": Rewrite(
                target="ringlib.DilatedAttention",
                args=(Arg(value="<pattern>"),),
                pattern="ringlib.BlockSparse",
                safe=False,
                reason="the layout comes from a SparsePatternConfig object",
            ),
        },
        divergences=(
            Divergence(
                what=(
                    "causal: the old 'diag-only' rule masked diagonal blocks only, so future blocks "
                    "leaked; the shim is token-correct"
                ),
                measured=(
                    "golden config, legacy vs token-correct: 6.01 (includes the old batched-path bug "
                    "for batch > 1 with > 32 pairs)"
                ),
            ),
            Divergence(
                what=(
                    "the old pattern cache ignored window_size/global_tokens/dilation_rates (stale "
                    "patterns after mutating a config); the shim always follows the current config"
                ),
                measured="stale pattern",
            ),
            BLOCK_SUM_INTENDED,
        ),
    ),
    LegacyName(
        name="BlockSparseRingDilatedAttentionFixed",
        kind="class",
        family="sparse",
        numerics="preserve",
        profile="BLOCK_SUM(local_window, bs 64, window 256)",
        replacement=(
            "ringlib.DilatedAttention(ringlib.BlockSparse('local_window', block_size=64, "
            "normalization='per_block_sum'))"
        ),
        paths=(
            "dilated_attention_pytorch.sparse.BlockSparseRingDilatedAttentionFixed",
            "dilated_attention_pytorch.sparse.block_sparse_ring_dilated_attention_fixed.BlockSparseRingDilatedAttentionFixed",
            "dilated_attention_pytorch.block_sparse_ring_dilated_attention_fixed.BlockSparseRingDilatedAttentionFixed",
        ),
        params=(
            Param(name="config", default=None, role="unsupported"),
            Param(name="dim", default=None, role="ignored"),
            Param(name="heads", default=None, role="ignored"),
            Param(name="segment_lengths", default=None, role="ignored"),
            Param(name="dilation_rates", default=None, role="ignored"),
            Param(name="ring_size", default=None, role="ignored"),
            Param(name="dropout", default=0.0, role="ignored", note="validated, never applied"),
            Param(
                name="sparse_pattern_config", default=None, role="ignored", note="always local_window / 64 / 256"
            ),
            Param(name="sparsity_ratio", default=None, role="ignored"),
            Param(name="block_size", default=None, role="ignored"),
            Param(name="kwargs", role="ignored", kind="var_keyword"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.DilatedAttention",
                args=(Arg(value="<pattern>"),),
                pattern="ringlib.BlockSparse",
                pattern_args=(
                    Arg(value="'local_window'"),
                    Arg(keyword="block_size", value="64"),
                    Arg(keyword="normalization", value="'per_block_sum'"),
                ),
                reason=QKV_FORWARD,
            ),
            "intended": Rewrite(
                target="ringlib.DilatedAttention",
                args=(Arg(value="<pattern>"),),
                pattern="ringlib.BlockSparse",
                pattern_args=(
                    Arg(value="'local_window'"),
                    Arg(keyword="block_size", value="64"),
                ),
                reason=QKV_FORWARD,
            ),
        },
        divergences=(
            Divergence(
                what=(
                    "causal: the old 'diag-only' rule masked diagonal blocks only, so future blocks "
                    "leaked; the shim is token-correct"
                ),
                measured="golden config, legacy vs token-correct: 4.0",
            ),
            BLOCK_SUM_INTENDED,
        ),
    ),
    LegacyName(
        name="BlockSparseRingDilatedAttentionHilbertPostPattern",
        kind="class",
        family="sparse",
        numerics="preserve",
        profile="BLOCK_SUM(config pattern; zero tail if L % bs != 0)",
        replacement=(
            "ringlib.DilatedAttention(ringlib.BlockSparse(pattern_type, block_size=..., "
            "normalization='per_block_sum'))"
        ),
        paths=(
            "dilated_attention_pytorch.sparse.BlockSparseRingDilatedAttentionHilbertPostPattern",
            "dilated_attention_pytorch.sparse.block_sparse_ring_dilated_attention_hilbert_post_pattern.BlockSparseRingDilatedAttentionHilbertPostPattern",
            "dilated_attention_pytorch.block_sparse_ring_dilated_attention_hilbert_post_pattern.BlockSparseRingDilatedAttentionHilbertPostPattern",
        ),
        params=(
            Param(name="segment_lengths", role="ignored"),
            Param(name="dilation_rates", role="ignored"),
            Param(name="sparse_config", role="unsupported"),
            Param(name="use_post_pattern_optimization", default=True, role="ignored"),
            Param(name="cache_orderings", default=True, role="ignored"),
            Param(name="kwargs", role="ignored", kind="var_keyword"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.DilatedAttention",
                args=(Arg(value="<pattern>"),),
                pattern="ringlib.BlockSparse",
                safe=False,
                reason="the layout comes from a SparsePatternConfig object",
            ),
        },
        divergences=(
            Divergence(
                what=(
                    "causal: the old 'diag-only' rule masked diagonal blocks only, so future blocks "
                    "leaked; the shim is token-correct"
                ),
                measured="golden config, legacy vs token-correct: 5.55",
            ),
            Divergence(
                what=(
                    "L % block_size != 0 with > 32 pairs raised a reshape RuntimeError; the shim outputs "
                    "zeros for the tail in all cases"
                ),
                measured="old: RuntimeError",
            ),
            BLOCK_SUM_INTENDED,
        ),
    ),
    LegacyName(
        name="BlockSparseRingMultiheadDilatedAttention",
        checkpoint=SEPARATE_PROJECTIONS,
        kind="class",
        family="sparse",
        numerics="preserve",
        profile="BLOCK_SUM inside q/k/v/out projections",
        replacement=(
            "ringlib.MultiheadAttention(embed_dim, num_heads, ringlib.BlockSparse('local_window', block_size=64, "
            "normalization='per_block_sum'), output_dropout=dropout) (the layout of sparse_config; "
            "q_proj/k_proj/v_proj/out_proj load as they are)"
        ),
        paths=(
            "dilated_attention_pytorch.BlockSparseRingMultiheadDilatedAttention",
            "dilated_attention_pytorch.sparse.BlockSparseRingMultiheadDilatedAttention",
            "dilated_attention_pytorch.sparse.block_sparse_ring_multihead_dilated_attention.BlockSparseRingMultiheadDilatedAttention",
            "dilated_attention_pytorch.sparse.block_sparse_factory.BlockSparseRingMultiheadDilatedAttention",
            "dilated_attention_pytorch.block_sparse_ring_multihead_dilated_attention.BlockSparseRingMultiheadDilatedAttention",
            "dilated_attention_pytorch.block_sparse_factory.BlockSparseRingMultiheadDilatedAttention",
        ),
        params=(
            Param(name="embed_dim"),
            Param(name="num_heads"),
            Param(name="segment_lengths", role="ignored"),
            Param(name="dilation_rates", role="ignored"),
            Param(name="dropout", default=0.0, note="output dropout only"),
            Param(name="bias", default=True),
            Param(name="sparse_config", default=None, role="unsupported", note="its layout: migrate by hand"),
            Param(name="batch_first", default=True),
            Param(name="kwargs", role="unsupported", kind="var_keyword",
                  note="sparsity_config / sparsity_ratio / device / dtype: migrate by hand"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.MultiheadAttention",
                args=(
                    Arg(source="embed_dim"),
                    Arg(source="num_heads"),
                    Arg(value="<pattern>"),
                    Arg(keyword="bias", source="bias"),
                    Arg(keyword="output_dropout", source="dropout"),
                    Arg(keyword="batch_first", source="batch_first"),
                ),
                pattern="ringlib.BlockSparse",
                pattern_args=(
                    Arg(value="'local_window'"),
                    Arg(keyword="block_size", value="64"),
                    Arg(keyword="normalization", value="'per_block_sum'"),
                ),
                reason=(
                    "the old forward also took key_padding_mask/need_weights/attn_mask and returned (out, info) "
                    "with need_weights=True; the canonical forward is forward(query, key, value, *, is_causal)"
                ),
            ),
            "intended": Rewrite(
                target="ringlib.MultiheadAttention",
                args=(
                    Arg(source="embed_dim"),
                    Arg(source="num_heads"),
                    Arg(value="<pattern>"),
                    Arg(keyword="bias", source="bias"),
                    Arg(keyword="output_dropout", source="dropout"),
                    Arg(keyword="batch_first", source="batch_first"),
                ),
                pattern="ringlib.BlockSparse",
                pattern_args=(
                    Arg(value="'local_window'"),
                    Arg(keyword="block_size", value="64"),
                ),
            ),
        },
        divergences=(
            Divergence(
                what=(
                    "causal: the old 'diag-only' rule masked diagonal blocks only, so future blocks "
                    "leaked; the shim is token-correct"
                ),
                measured="golden config, legacy vs token-correct: 1.45",
            ),
            BLOCK_SUM_INTENDED,
        ),
    ),
    LegacyName(
        name="BlockSparseAdaptive",
        checkpoint=ADAPTIVE_SELECTION,
        kind="class",
        family="sparse",
        numerics="preserve",
        profile="BLOCK_SUM with SELECT_ADAPTIVE",
        replacement="ringlib.AdaptiveBlockSparseAttention (loads the old state_dict keys)",
        paths=(
            "dilated_attention_pytorch.BlockSparseAdaptive",
            "dilated_attention_pytorch.sparse.BlockSparseAdaptive",
            "dilated_attention_pytorch.sparse.block_sparse_adaptive.BlockSparseAdaptive",
            "dilated_attention_pytorch.sparse.block_sparse_adaptive_fixed._BlockSparseAdaptiveOriginal",
            "dilated_attention_pytorch.block_sparse_adaptive.BlockSparseAdaptive",
            "dilated_attention_pytorch.block_sparse_adaptive_fixed._BlockSparseAdaptiveOriginal",
        ),
        params=(
            Param(name="segment_lengths", role="ignored"),
            Param(name="dilation_rates", role="ignored"),
            Param(name="num_heads"),
            Param(name="head_dim"),
            Param(name="adaptive_config", default=None, role="unsupported"),
            Param(name="kwargs", role="ignored", kind="var_keyword"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.AdaptiveBlockSparseAttention",
                args=(
                    Arg(source="num_heads"),
                    Arg(source="head_dim"),
                    Arg(keyword="normalization", value="'per_block_sum'"),
                    Arg(keyword="selection", value="'batch_threshold'"),
                ),
                safe=True,
            ),
        },
        divergences=(
            Divergence(
                what=(
                    "causal: the old 'diag-only' rule masked diagonal blocks only, so future blocks "
                    "leaked; the shim is token-correct"
                ),
                measured="golden config, legacy vs token-correct: 1.77 (top-k freely picked future blocks)",
            ),
        ),
    ),
    LegacyName(
        name="BlockSparseAdaptiveFixed",
        checkpoint=ADAPTIVE_SELECTION,
        kind="class",
        family="sparse",
        numerics="preserve",
        profile="BLOCK_SUM with SELECT_ADAPTIVE (lazy; block size from kwargs or 64)",
        replacement="ringlib.AdaptiveBlockSparseAttention (loads the old state_dict keys)",
        paths=(
            "dilated_attention_pytorch.sparse.BlockSparseAdaptiveFixed",
            "dilated_attention_pytorch.sparse.block_sparse_adaptive_fixed.BlockSparseAdaptive",
            "dilated_attention_pytorch.sparse.block_sparse_factory.BlockSparseAdaptive",
            "dilated_attention_pytorch.block_sparse_adaptive_fixed.BlockSparseAdaptive",
            "dilated_attention_pytorch.block_sparse_factory.BlockSparseAdaptive",
        ),
        params=(
            Param(name="segment_lengths", role="ignored"),
            Param(name="dilation_rates", role="ignored"),
            Param(name="sparse_config", default=None, role="ignored", note="its block size is replaced by 64"),
            Param(name="adaptive_config", default=None, role="unsupported"),
            Param(name="num_heads", default=None, kind="keyword_only", note="read from **kwargs (else from the first input)"),
            Param(name="head_dim", default=None, kind="keyword_only", note="read from **kwargs (else from the first input)"),
            Param(name="kwargs", role="ignored", kind="var_keyword"),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.AdaptiveBlockSparseAttention",
                args=(
                    Arg(source="num_heads"),
                    Arg(source="head_dim"),
                    Arg(keyword="normalization", value="'per_block_sum'"),
                    Arg(keyword="selection", value="'batch_threshold'"),
                ),
                safe=True,
            ),
        },
        divergences=(
            Divergence(
                what=(
                    "causal: the old 'diag-only' rule masked diagonal blocks only, so future blocks "
                    "leaked; the shim is token-correct"
                ),
                measured="golden config, legacy vs token-correct: 1.77",
            ),
            Divergence(
                what=(
                    "the old lazy init re-ran nn.Module.__init__ at the first forward, which reset training=True: a "
                    "module put in eval() before that call ran it in training mode (Gumbel noise from the global "
                    "RNG in the block selection), later calls in eval mode; the shim and the rewrite honour the mode"
                ),
                measured=(
                    "L=128, block 64, H=2, D=16 (tests/legacy/recordings/checkpoints): that first call 1.83 "
                    "max-abs from the old eval output; the replacement matches the old eval output, and in "
                    "training mode on the same random stream the old first call (flash-attn rule)"
                ),
            ),
            Divergence(
                what=(
                    "loading a checkpoint into a fresh instance failed (`Unexpected key(s)`); the shim "
                    "materialises the parameters from the checkpoint"
                ),
                measured="old: RuntimeError",
            ),
        ),
    ),
    LegacyName(
        name="SparsePatternConfig",
        kind="dataclass",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="ringlib.BlockSparse(pattern_type, block_size=...)",
        paths=(
            "dilated_attention_pytorch.SparsePatternConfig",
            "dilated_attention_pytorch.sparse.SparsePatternConfig",
            "dilated_attention_pytorch.sparse.block_sparse_ring_dilated_attention.SparsePatternConfig",
            "dilated_attention_pytorch.sparse.block_sparse_ring_dilated_attention_fixed.SparsePatternConfig",
            "dilated_attention_pytorch.sparse.block_sparse_ring_dilated_attention_hilbert_post_pattern.SparsePatternConfig",
            "dilated_attention_pytorch.sparse.block_sparse_ring_multihead_dilated_attention.SparsePatternConfig",
            "dilated_attention_pytorch.sparse.block_sparse_adaptive.SparsePatternConfig",
            "dilated_attention_pytorch.sparse.block_sparse_adaptive_fixed.SparsePatternConfig",
            "dilated_attention_pytorch.sparse.block_sparse_factory.SparsePatternConfig",
            "dilated_attention_pytorch.block_sparse_ring_dilated_attention.SparsePatternConfig",
            "dilated_attention_pytorch.block_sparse_ring_dilated_attention_fixed.SparsePatternConfig",
            "dilated_attention_pytorch.block_sparse_ring_dilated_attention_hilbert_post_pattern.SparsePatternConfig",
            "dilated_attention_pytorch.block_sparse_ring_multihead_dilated_attention.SparsePatternConfig",
            "dilated_attention_pytorch.block_sparse_adaptive.SparsePatternConfig",
            "dilated_attention_pytorch.block_sparse_adaptive_fixed.SparsePatternConfig",
            "dilated_attention_pytorch.block_sparse_factory.SparsePatternConfig",
        ),
        counted=False,
    ),
    LegacyName(
        name="AdaptiveConfig",
        kind="dataclass",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="ringlib.AdaptiveBlockSparseAttention arguments",
        paths=(
            "dilated_attention_pytorch.AdaptiveConfig",
            "dilated_attention_pytorch.sparse.AdaptiveConfig",
            "dilated_attention_pytorch.sparse.block_sparse_adaptive.AdaptiveConfig",
            "dilated_attention_pytorch.sparse.block_sparse_adaptive_fixed.AdaptiveConfig",
            "dilated_attention_pytorch.sparse.block_sparse_factory.AdaptiveConfig",
            "dilated_attention_pytorch.block_sparse_adaptive.AdaptiveConfig",
            "dilated_attention_pytorch.block_sparse_adaptive_fixed.AdaptiveConfig",
            "dilated_attention_pytorch.block_sparse_factory.AdaptiveConfig",
        ),
        counted=False,
    ),
    LegacyName(
        name="ImportanceScorer",
        checkpoint=SAME_KEYS,
        kind="class",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="ringlib.adaptive.BlockScorer (same parameters, state_dict keys and forward)",
        paths=(
            "dilated_attention_pytorch.ImportanceScorer",
            "dilated_attention_pytorch.sparse.block_sparse_adaptive.ImportanceScorer",
            "dilated_attention_pytorch.block_sparse_adaptive.ImportanceScorer",
        ),
        params=(
            Param(name="input_dim"),
            Param(name="hidden_dim"),
            Param(name="num_layers", note="hidden layers of the shared network; per-head networks always have two"),
            Param(name="num_heads"),
            Param(name="share_across_heads", default=False),
        ),
        rewrites={
            "preserve": Rewrite(
                target="ringlib.adaptive.BlockScorer",
                args=(
                    Arg(source="input_dim"),
                    Arg(source="hidden_dim"),
                    Arg(source="num_layers"),
                    Arg(source="num_heads"),
                    Arg(keyword="share_across_heads", source="share_across_heads"),
                ),
            ),
        },
        counted=False,
    ),
    LegacyName(
        name="AdaptiveSparsityTrainer",
        kind="class",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="a temperature schedule in your training loop",
        paths=(
            "dilated_attention_pytorch.AdaptiveSparsityTrainer",
            "dilated_attention_pytorch.sparse.AdaptiveSparsityTrainer",
            "dilated_attention_pytorch.sparse.block_sparse_adaptive.AdaptiveSparsityTrainer",
            "dilated_attention_pytorch.block_sparse_adaptive.AdaptiveSparsityTrainer",
        ),
        counted=False,
    ),
    LegacyName(
        name="create_adaptive_block_sparse",
        key="create_adaptive_block_sparse@adaptive",
        kind="function",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="ringlib.AdaptiveBlockSparseAttention",
        paths=(
            "dilated_attention_pytorch.sparse.block_sparse_adaptive.create_adaptive_block_sparse",
            "dilated_attention_pytorch.block_sparse_adaptive.create_adaptive_block_sparse",
        ),
        counted=False,
    ),
    LegacyName(
        name="create_adaptive_block_sparse_consistent",
        kind="function",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="ringlib.AdaptiveBlockSparseAttention",
        paths=(
            "dilated_attention_pytorch.sparse.block_sparse_adaptive_fixed.create_adaptive_block_sparse_consistent",
            "dilated_attention_pytorch.block_sparse_adaptive_fixed.create_adaptive_block_sparse_consistent",
        ),
        counted=False,
    ),
    LegacyName(
        name="DistributedSparseConfig",
        kind="dataclass",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="ringlib.BlockSparse(layout, block_size=...)",
        paths=(
            "dilated_attention_pytorch.DistributedSparseConfig",
            "dilated_attention_pytorch.sparse.block_sparse_ring_distributed_dilated_attention.DistributedSparseConfig",
            "dilated_attention_pytorch.sparse.distributed_sparse_config.DistributedSparseConfig",
            "dilated_attention_pytorch.sparse.sparse_pattern_generator.DistributedSparseConfig",
            "dilated_attention_pytorch.sparse.block_sparse_factory.DistributedSparseConfig",
            "dilated_attention_pytorch.block_sparse_ring_distributed_dilated_attention.DistributedSparseConfig",
            "dilated_attention_pytorch.block_sparse_factory.DistributedSparseConfig",
        ),
        counted=False,
    ),
    LegacyName(
        name="DistributedSparsePattern",
        kind="enum",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="ringlib.BlockSparse(layout)",
        paths=(
            "dilated_attention_pytorch.DistributedSparsePattern",
            "dilated_attention_pytorch.sparse.block_sparse_ring_distributed_dilated_attention.DistributedSparsePattern",
            "dilated_attention_pytorch.sparse.distributed_sparse_config.DistributedSparsePattern",
            "dilated_attention_pytorch.block_sparse_ring_distributed_dilated_attention.DistributedSparsePattern",
        ),
        counted=False,
    ),
    LegacyName(
        name="HAS_DEEPSPEED",
        kind="object",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="importlib.util.find_spec('deepspeed')",
        paths=("dilated_attention_pytorch.sparse.distributed_sparse_config.HAS_DEEPSPEED",),
        counted=False,
    ),
    LegacyName(
        name="HAS_APEX",
        kind="object",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="importlib.util.find_spec('apex')",
        paths=("dilated_attention_pytorch.sparse.distributed_sparse_config.HAS_APEX",),
        counted=False,
    ),
    LegacyName(
        name="HierarchicalSparsePatternGenerator",
        kind="class",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="ringlib.BlockSparse(layout) with your own layout",
        paths=(
            "dilated_attention_pytorch.sparse.sparse_pattern_generator.HierarchicalSparsePatternGenerator",
            "dilated_attention_pytorch.sparse.block_sparse_ring_distributed_dilated_attention.HierarchicalSparsePatternGenerator",
            "dilated_attention_pytorch.block_sparse_ring_distributed_dilated_attention.HierarchicalSparsePatternGenerator",
        ),
        counted=False,
    ),
    LegacyName(
        name="create_block_sparse_attention",
        kind="function",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="ringlib.DilatedAttention(ringlib.BlockSparse(...))",
        paths=(
            "dilated_attention_pytorch.create_block_sparse_attention",
            "dilated_attention_pytorch.sparse.create_block_sparse_attention",
            "dilated_attention_pytorch.sparse.block_sparse_factory.create_block_sparse_attention",
            "dilated_attention_pytorch.block_sparse_factory.create_block_sparse_attention",
        ),
        counted=False,
    ),
    LegacyName(
        name="create_adaptive_block_sparse",
        kind="function",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="ringlib.AdaptiveBlockSparseAttention",
        paths=(
            "dilated_attention_pytorch.create_adaptive_block_sparse",
            "dilated_attention_pytorch.sparse.create_adaptive_block_sparse",
            "dilated_attention_pytorch.sparse.block_sparse_factory.create_adaptive_block_sparse",
            "dilated_attention_pytorch.block_sparse_factory.create_adaptive_block_sparse",
        ),
        counted=False,
    ),
    LegacyName(
        name="create_multihead_block_sparse",
        kind="function",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="ringlib.MultiheadDilatedAttention(embed_dim, num_heads, ringlib.BlockSparse(...))",
        paths=(
            "dilated_attention_pytorch.create_multihead_block_sparse",
            "dilated_attention_pytorch.sparse.create_multihead_block_sparse",
            "dilated_attention_pytorch.sparse.block_sparse_factory.create_multihead_block_sparse",
            "dilated_attention_pytorch.block_sparse_factory.create_multihead_block_sparse",
        ),
        counted=False,
    ),
    LegacyName(
        name="get_block_sparse_preset",
        kind="function",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="ringlib.DilatedAttention(ringlib.BlockSparse(...))",
        paths=(
            "dilated_attention_pytorch.get_block_sparse_preset",
            "dilated_attention_pytorch.sparse.block_sparse_factory.get_block_sparse_preset",
            "dilated_attention_pytorch.block_sparse_factory.get_block_sparse_preset",
        ),
        counted=False,
    ),
    LegacyName(
        name="BlockSparseVariant",
        kind="object",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="a str",
        paths=(
            "dilated_attention_pytorch.sparse.block_sparse_factory.BlockSparseVariant",
            "dilated_attention_pytorch.block_sparse_factory.BlockSparseVariant",
        ),
        counted=False,
    ),
    LegacyName(
        name="PostPatternHilbertOptimizer",
        kind="class",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="nothing (pair order does not change results)",
        paths=(
            "dilated_attention_pytorch.sparse.block_sparse_ring_dilated_attention_hilbert_post_pattern.PostPatternHilbertOptimizer",
            "dilated_attention_pytorch.block_sparse_ring_dilated_attention_hilbert_post_pattern.PostPatternHilbertOptimizer",
        ),
        counted=False,
    ),
    LegacyName(
        name="create_post_pattern_hilbert_attention",
        kind="function",
        family="sparse",
        numerics="preserve",
        profile="helper",
        replacement="ringlib.DilatedAttention(ringlib.BlockSparse(..., normalization='per_block_sum'))",
        paths=(
            "dilated_attention_pytorch.sparse.block_sparse_ring_dilated_attention_hilbert_post_pattern.create_post_pattern_hilbert_attention",
            "dilated_attention_pytorch.block_sparse_ring_dilated_attention_hilbert_post_pattern.create_post_pattern_hilbert_attention",
        ),
        counted=False,
    ),
)
