"""Rows of ``dilated_attention_pytorch.ring.distributed``."""

from __future__ import annotations

from ringlib_legacy.schema import Arg, Divergence, LegacyName, Param, Rewrite
from ringlib_legacy.rows.common import CORE_PROJECTIONS

ROWS: tuple[LegacyName, ...] = (
    LegacyName(
        name="RingDistributedDilatedAttention",
        checkpoint=CORE_PROJECTIONS,
        kind="class",
        family="ring/distributed",
        numerics="intended",
        profile="LONGNET multihead (exact ring)",
        replacement=(
            "ringlib.MultiheadAttention(embed_dim, num_heads, ringlib.Dilated(segment_lengths, dilation_rates), "
            "out_norm=layer_norm) (group= for ring attention; returns out, not (out, None))"
        ),
        paths=(
            "dilated_attention_pytorch.ring.RingDistributedDilatedAttention",
            "dilated_attention_pytorch.ring.distributed.RingDistributedDilatedAttention",
            "dilated_attention_pytorch.ring.distributed.ring_distributed_dilated_attention.RingDistributedDilatedAttention",
            "dilated_attention_pytorch.sparse.block_sparse_ring_distributed_dilated_attention.RingDistributedDilatedAttention",
            "dilated_attention_pytorch.ring_distributed_dilated_attention.RingDistributedDilatedAttention",
            "dilated_attention_pytorch.block_sparse_ring_distributed_dilated_attention.RingDistributedDilatedAttention",
        ),
        params=(
            Param(name="embed_dim"),
            Param(name="num_heads"),
            Param(name="segment_lengths"),
            Param(name="dilation_rates"),
            Param(name="dropout", default=0.0),
            Param(name="bias", default=True),
            Param(name="layer_norm", default=True),
            Param(name="layer_norm_eps", default=1e-05),
            Param(name="gamma_init", default=1.0, note="initialisation gain only"),
            Param(name="block_size", default=1024, role="ignored"),
            Param(name="ring_size", default=None, role="ignored"),
            Param(name="use_checkpointing", default=True, role="ignored"),
            Param(name="model_parallel", default=False, role="ignored"),
            Param(name="sequence_parallel", default=True, role="ignored"),
            Param(name="data_parallel", default=True, role="ignored"),
            Param(name="use_deepspeed", default=True, role="ignored"),
            Param(name="zero_stage", default=3, role="ignored"),
            Param(name="cpu_offload", default=False, role="ignored"),
            Param(name="nvme_offload", default=False, role="ignored"),
            Param(name="use_8bit_optimizer", default=False, role="ignored"),
            Param(name="use_gradient_compression", default=False, role="ignored"),
            Param(name="activation_checkpointing", default=True, role="ignored"),
            Param(name="communication_backend", default="nccl", role="ignored"),
            Param(name="bucket_size", default=25, role="ignored"),
            Param(name="overlap_communication", default=True, role="ignored"),
            Param(name="enable_fault_tolerance", default=True, role="ignored"),
            Param(name="checkpoint_interval", default=1000, role="ignored"),
            Param(name="auto_resume", default=True, role="ignored"),
            Param(name="enable_monitoring", default=True, role="ignored"),
            Param(name="profile_memory", default=False, role="ignored"),
            Param(name="log_level", default="INFO", role="ignored"),
            Param(name="use_tf32", default=True, role="ignored"),
            Param(name="use_flash_attention", default=True, role="ignored"),
            Param(name="compile_model", default=False, role="ignored"),
            Param(name="device", default=None),
            Param(name="dtype", default=None),
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
                    Arg(keyword="out_norm", source="layer_norm", omit_if_default=False),
                    Arg(keyword="norm_eps", source="layer_norm_eps"),
                    Arg(keyword="device", source="device"),
                    Arg(keyword="dtype", source="dtype"),
                ),
                pattern="ringlib.Dilated",
                pattern_args=(
                    Arg(source="segment_lengths"),
                    Arg(source="dilation_rates"),
                ),
                safe=False,
                reason="the old forward returned (out, None); the canonical forward returns out: migrate by hand",
            ),
        },
        divergences=(
            Divergence(
                what=(
                    "the old constructor always raised `ValueError: Unknown attention type 'improved'`; "
                    "the shim builds LongNet multihead attention"
                ),
                measured="old: not constructible",
            ),
        ),
    ),
)
