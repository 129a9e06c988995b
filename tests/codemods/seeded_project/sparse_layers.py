"""Block-sparse layers, written the way the old README showed them."""

from dilated_attention_pytorch import (
    BlockSparseRingDilatedAttention,
    SparsePatternConfig,
    create_block_sparse_attention,
    get_block_sparse_preset,
)
from dilated_attention_pytorch.sparse.block_sparse_ring_dilated_attention_hilbert_post_pattern import (
    BlockSparseRingDilatedAttentionHilbertPostPattern,
)

SEGMENTS = [64, 128]
RATES = [1, 2]


def local_attention():
    config = SparsePatternConfig(
        pattern_type="local_window",
        sparsity_ratio=0.25,  # a quarter of the blocks
        block_size=16,
        window_size=32,
    )
    return BlockSparseRingDilatedAttention(SEGMENTS, RATES, sparse_config=config)


def dilated_attention():
    return BlockSparseRingDilatedAttention(
        segment_lengths=SEGMENTS,
        dilation_rates=RATES,
        sparse_config=SparsePatternConfig(pattern_type="dilated_sparse", block_size=16, dilation_rates=[1, 2]),
        enable_batched_ops=False,  # the batched path was slower on CPU
    )


def global_attention():
    cfg = SparsePatternConfig(pattern_type="global_local", global_tokens=2, window_size=32, block_size=16)
    first = BlockSparseRingDilatedAttention(SEGMENTS, RATES, cfg)
    second = BlockSparseRingDilatedAttention(SEGMENTS, RATES, sparse_config=cfg)
    return first, second


def post_pattern_attention():
    cfg = SparsePatternConfig(pattern_type="dilated_sparse", block_size=16)
    return BlockSparseRingDilatedAttentionHilbertPostPattern(SEGMENTS, RATES, cfg)


def factory_attention():
    return create_block_sparse_attention("base", segment_lengths=SEGMENTS, dilation_rates=RATES,
                                         sparsity_ratio=0.2, block_size=32)


def default_attention():
    return create_block_sparse_attention(segment_lengths=SEGMENTS, dilation_rates=RATES)


def preset_attention():
    return get_block_sparse_preset("local")


#: classes picked by name; the config comes with the call
SPARSE_CLASSES = {
    "block_sparse": BlockSparseRingDilatedAttention,
    "post_pattern": BlockSparseRingDilatedAttentionHilbertPostPattern,
}


def table_attention(name, **config):
    return SPARSE_CLASSES[name](SEGMENTS, RATES, sparse_config=config)
