"""A small, fixed registry in the real schema, modelled on the catalog.

The fixtures test the codemod's machinery against it, so they do not change whenever the
real registry's recipes are tuned; ``test_real_registry.py`` covers the real one.
"""

from ringlib_legacy.schema import Arg, Divergence, LegacyName, Param, Rewrite

P = "dilated_attention_pytorch"

X_PARAMS = (
    Param("embed_dim"),
    Param("num_heads"),
    Param("segment_lengths"),
    Param("dilation_rates"),
    Param("dropout", 0.0),
    Param("bias", True),
    Param("use_hilbert", True),
    Param("device", None),
    Param("dtype", None),
)


def _multihead(pattern: str) -> Rewrite:
    return Rewrite(
        target="ringlib.MultiheadDilatedAttention",
        args=(
            Arg(source="embed_dim"),
            Arg(source="num_heads"),
            Arg(value="<pattern>"),
            Arg(keyword="dropout", source="dropout"),
            Arg(keyword="output_dropout", source="dropout"),
            Arg(keyword="bias", source="bias"),
            Arg(keyword="ordering", source="use_hilbert",
                choose=(("True", "'snake'"), ("False", "None")), omit_if_default=False),
            Arg(keyword="device", source="device"),
            Arg(keyword="dtype", source="dtype"),
        ),
        pattern=pattern,
        pattern_args=(Arg(source="segment_lengths"), Arg(source="dilation_rates")),
    )


CORRECT = LegacyName(
    name="RingDilatedAttentionCorrect",
    key="RingDilatedAttentionCorrect",
    kind="class",
    family="ring/base",
    
    paths=(
        f"{P}.ring.RingDilatedAttentionCorrect",
        f"{P}.ring.base.RingDilatedAttentionCorrect",
        f"{P}.ring.base.ring_dilated_attention_correct.RingDilatedAttentionCorrect",
        f"{P}.ring.RingDilatedAttention",
        f"{P}.ring.RingDilatedAttentionProduction",
        f"{P}.ring_dilated_attention_correct.RingDilatedAttentionCorrect",
    ),
    numerics="preserve",
    profile="REGIONS(snake iff use_hilbert)",
    replacement="ringlib.MultiheadDilatedAttention(..., ringlib.compat.Regions(...))",
    params=X_PARAMS,
    rewrites={"preserve": _multihead("ringlib.compat.Regions"),
              "intended": _multihead("ringlib.Dilated")},
    divergences=(Divergence("REGIONS -> LONGNET on the golden config", "0.41 max-abs", "intended"),),
)

WRAPPER = LegacyName(
    name="RingAttentionWrapper",
    key="RingAttentionWrapper",
    kind="class",
    family="ring/base",
    
    paths=(
        f"{P}.ring.RingAttentionWrapper",
        f"{P}.ring.base.RingAttentionWrapper",
        f"{P}.ring_dilated_attention_correct.RingAttentionWrapper",
    ),
    numerics="preserve",
    profile="REGIONS(snake iff use_hilbert)",
    replacement="ringlib.MultiheadDilatedAttention",
    params=(Param("embed_dim"), Param("num_heads"), Param("segment_lengths"),
            Param("dilation_rates"), Param("kwargs", kind="var_keyword", role="unsupported")),
    rewrites={"preserve": Rewrite("ringlib.MultiheadDilatedAttention", safe=False,
                                  reason="state_dict keys carry an 'attention.' prefix")},
)

STRIDED = LegacyName(
    name="RingDilatedAttentionHilbertOptimizedFixed",
    key="RingDilatedAttentionHilbertOptimizedFixed",
    kind="class",
    family="ring/hilbert",
    
    paths=(
        f"{P}.ring.RingDilatedAttentionHilbertOptimizedFixed",
        f"{P}.ring.hilbert.RingDilatedAttentionHilbertOptimizedFixed",
        f"{P}.ring_dilated_attention_hilbert_optimized_fixed.RingDilatedAttentionHilbertOptimizedFixed",
    ),
    numerics="preserve",
    profile="STRIDED_KEYS(scale dim^-0.5)",
    replacement="ringlib.DilatedAttention(ringlib.compat.StridedKeys(...))",
    params=(
        Param("config", None, role="unsupported", note="read the fields into arguments"),
        Param("dim", None),
        Param("heads", None, role="ignored", note="the head count comes from q"),
        Param("segment_lengths", None),
        Param("dilation_rates", None),
        Param("ring_size", None, role="ignored"),
        Param("dropout", 0.0),
        Param("use_hilbert", True),
        Param("hilbert_chunk_size", None, role="ignored"),
        Param("kwargs", kind="var_keyword", role="ignored"),
    ),
    rewrites={"preserve": Rewrite(
        target="ringlib.DilatedAttention",
        args=(
            Arg(value="<pattern>"),
            Arg(keyword="scale", source="dim", template="{dim} ** -0.5"),
            Arg(keyword="dropout", source="dropout"),
            Arg(keyword="ordering", source="use_hilbert",
                choose=(("True", "'curve_b'"), ("False", "None")), omit_if_default=False),
        ),
        pattern="ringlib.compat.StridedKeys",
        pattern_args=(Arg(source="segment_lengths"), Arg(source="dilation_rates")),
    )},
)

DISTRIBUTED = LegacyName(
    name="RingDistributedDilatedAttention",
    key="RingDistributedDilatedAttention",
    kind="class",
    family="ring/distributed",
    
    paths=(
        f"{P}.ring.RingDistributedDilatedAttention",
        f"{P}.ring.distributed.RingDistributedDilatedAttention",
        f"{P}.ring_distributed_dilated_attention.RingDistributedDilatedAttention",
    ),
    numerics="intended",
    profile="LONGNET",
    replacement="ringlib.MultiheadDilatedAttention(..., ringlib.Dilated(...))",
    params=(Param("embed_dim"), Param("num_heads"), Param("segment_lengths"),
            Param("dilation_rates")),
    rewrites={"intended": Rewrite("ringlib.MultiheadDilatedAttention", safe=False,
                                  reason="forward takes query, key, value and returns a tuple")},
)

GPU = LegacyName(
    name="RingDilatedAttentionHilbertGPUOptimized",
    key="RingDilatedAttentionHilbertGPUOptimized",
    kind="class",
    family="ring/hilbert",
    
    paths=(
        f"{P}.RingDilatedAttentionHilbertGPUOptimized",
        f"{P}.ring.RingDilatedAttentionHilbertGPUOptimized",
        f"{P}.ring.hilbert.RingDilatedAttentionHilbertGPUOptimized",
    ),
    numerics="preserve",
    profile="REGIONS(snake iff use_hilbert)",
    replacement="ringlib.MultiheadDilatedAttention(..., ringlib.compat.Regions(...))",
    params=X_PARAMS[:6] + (Param("ring_size", None, role="ignored"),) + X_PARAMS[6:],
    rewrites={"preserve": _multihead("ringlib.compat.Regions")},
)

RING_ATTENTION = LegacyName(
    name="ring_attention",
    key="ring_attention",
    kind="function",
    family="ring/utils",
    
    paths=(
        f"{P}.ring.utils.ring_attention",
        f"{P}.ring.utils.ring_attention_autograd.ring_attention",
        f"{P}.ring_attention_autograd.ring_attention",
    ),
    numerics="intended",
    profile="EXACT",
    replacement="ringlib.attention(q, k, v, ringlib.Dense()) (layout (B, L, H, D))",
)

UTILS = LegacyName(
    name="ring_attention_utils",
    key="ring_attention_utils",
    kind="module",
    family="ring/utils",
    
    paths=(f"{P}.ring.utils.ring_attention_utils", f"{P}.ring_attention_utils"),
    numerics="preserve",
    profile="helpers",
    replacement="ringlib.shard_sequence / torch.distributed",
)

CONFIG = LegacyName(
    name="SparsePatternConfig",
    key="SparsePatternConfig",
    kind="dataclass",
    family="sparse",
    
    paths=(f"{P}.SparsePatternConfig", f"{P}.sparse.SparsePatternConfig",
           f"{P}.sparse.block_sparse_ring_dilated_attention.SparsePatternConfig"),
    numerics="preserve",
    profile="-",
    replacement="ringlib.BlockSparse(...)",
)

#: a constructor whose layout comes from a config (its row in ringlib_legacy.sparse_configs)
BLOCK_SPARSE = LegacyName(
    name="BlockSparseRingDilatedAttention",
    key="BlockSparseRingDilatedAttention",
    kind="class",
    family="sparse",
    paths=(f"{P}.BlockSparseRingDilatedAttention", f"{P}.sparse.BlockSparseRingDilatedAttention"),
    numerics="preserve",
    profile="BLOCK_SUM(config pattern)",
    replacement="ringlib.DilatedAttention(ringlib.BlockSparse(...))",
    params=(Param("segment_lengths"), Param("dilation_rates"), Param("sparse_config", None, role="unsupported")),
    rewrites={"preserve": Rewrite(target="ringlib.DilatedAttention", safe=False,
                                  reason="the layout comes from a SparsePatternConfig object")},
)

ENTRIES = (CORRECT, WRAPPER, STRIDED, DISTRIBUTED, GPU, RING_ATTENTION, UTILS, CONFIG, BLOCK_SPARSE)
