"""``RingDistributedDilatedAttention``, intended semantics: LongNet multihead
attention. The old constructor could never run; the shim keeps its signature and
validation, and ignores the many infrastructure switches (use DDP, torchrun, ``group=``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

import ringlib

from .common import check_heads, projection_inputs

Tensor = torch.Tensor

_IGNORED = dict(block_size=1024, ring_size=None, use_checkpointing=True, model_parallel=False,
                sequence_parallel=True, data_parallel=True, use_deepspeed=True, zero_stage=3, cpu_offload=False,
                nvme_offload=False, use_8bit_optimizer=False, use_gradient_compression=False,
                activation_checkpointing=True, communication_backend="nccl", bucket_size=25,
                overlap_communication=True, enable_fault_tolerance=True, checkpoint_interval=1000,
                auto_resume=True, enable_monitoring=True, profile_memory=False, log_level="INFO", use_tf32=True,
                use_flash_attention=True, compile_model=False)


class _Core(ringlib.MultiheadDilatedAttention):
    """``attention_core``: the fused projection, the LongNet core and the sub-LayerNorms."""

    def __init__(self, embed_dim, num_heads, pattern, *, bias, dropout, layer_norm, eps, gamma_init, device, dtype):
        super().__init__(embed_dim, num_heads, pattern, bias=bias, dropout=dropout, device=device, dtype=dtype)
        if layer_norm:
            self.q_ln = nn.LayerNorm(embed_dim, eps=eps, device=device, dtype=dtype)
            self.k_ln = nn.LayerNorm(embed_dim, eps=eps, device=device, dtype=dtype)  # exists, unused
        else:
            self.q_ln = self.k_ln = None
        e = embed_dim
        with torch.no_grad():
            nn.init.xavier_normal_(self.qkv_proj.weight[:e])
            nn.init.xavier_normal_(self.qkv_proj.weight[e:2 * e])
            nn.init.xavier_normal_(self.qkv_proj.weight[2 * e:], gain=gamma_init)
            nn.init.xavier_normal_(self.out_proj.weight, gain=gamma_init)
            for lin in (self.qkv_proj, self.out_proj):
                if lin.bias is not None:
                    lin.bias.zero_()


class RingDistributedDilatedAttention(nn.Module):
    """query, key, value ``(B, L, E)`` -> ``(out, None)``: separate projections from the rows
    of ``attention_core.qkv_proj``, LongNet, sub-LayerNorm, ``out_proj``."""

    def __init__(self, embed_dim: int, num_heads: int, segment_lengths: Sequence[int],
                 dilation_rates: Sequence[int], dropout: float = 0.0, bias: bool = True, layer_norm: bool = True,
                 layer_norm_eps: float = 1e-05, gamma_init: float = 1.0, block_size: int = 1024,
                 ring_size: int | None = None, use_checkpointing: bool = True, model_parallel: bool = False,
                 sequence_parallel: bool = True, data_parallel: bool = True, use_deepspeed: bool = True,
                 zero_stage: int = 3, cpu_offload: bool = False, nvme_offload: bool = False,
                 use_8bit_optimizer: bool = False, use_gradient_compression: bool = False,
                 activation_checkpointing: bool = True, communication_backend: str = "nccl", bucket_size: int = 25,
                 overlap_communication: bool = True, enable_fault_tolerance: bool = True,
                 checkpoint_interval: int = 1000, auto_resume: bool = True, enable_monitoring: bool = True,
                 profile_memory: bool = False, log_level: str = "INFO", use_tf32: bool = True,
                 use_flash_attention: bool = True, compile_model: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        check_heads(embed_dim, num_heads)
        head_dim = embed_dim // num_heads
        if head_dim % 8:
            raise ValueError(f"head_dim ({head_dim}) must be divisible by 8")
        if head_dim > 128:
            raise ValueError(f"head_dim ({head_dim}) must be <= 128")
        if len(segment_lengths) != len(dilation_rates):
            raise ValueError("segment_lengths and dilation_rates must have the same length")
        if zero_stage not in (1, 2, 3):
            raise ValueError(f"zero_stage must be 1, 2 or 3, got {zero_stage}")
        local = dict(locals())
        for name in _IGNORED:
            setattr(self, name, local[name])
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, head_dim
        self.segment_lengths, self.dilation_rates = list(segment_lengths), list(dilation_rates)
        self.dropout = dropout
        self.attention_core = _Core(embed_dim, num_heads, ringlib.Dilated(self.segment_lengths, self.dilation_rates),
                                    bias=bias, dropout=dropout, layer_norm=layer_norm, eps=layer_norm_eps,
                                    gamma_init=gamma_init, device=device, dtype=dtype)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, is_causal: bool = False,
                need_weights: bool = False, attn_mask: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        if attn_mask is not None:
            raise NotImplementedError("attn_mask is not supported; use is_causal or a ringlib pattern")
        core, e = self.attention_core, self.embed_dim
        w, bias = core.qkv_proj.weight, core.qkv_proj.bias
        query, key, value = projection_inputs(e, w.dtype, query, key, value)
        b, n, _ = query.shape
        shape = (b, n, self.num_heads, self.head_dim)
        q, k, v = (F.linear(x, w[i * e:(i + 1) * e], None if bias is None else bias[i * e:(i + 1) * e]).view(shape)
                   for i, x in enumerate((query, key, value)))
        out = core.attention(q, k, v, is_causal=is_causal).reshape(b, n, e)
        if core.q_ln is not None:
            out = core.q_ln(out)
        return core.out_proj(out), None
