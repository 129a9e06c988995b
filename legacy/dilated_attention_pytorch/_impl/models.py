"""The old ``models`` package: MAGNETO transformer layers and LongNet around the old
``MultiheadDilatedAttention`` (itself on ringlib). Same submodule names and creation order as
the old classes, so a seeded program gets the same weights and old checkpoints load."""

from __future__ import annotations

import math
from typing import Callable, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from ringlib.models import XPos

from .base_modules import MultiheadDilatedAttention

Tensor = torch.Tensor
Activation = Union[str, Callable[[Tensor], Tensor]]

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _activation(activation: Activation) -> Callable[[Tensor], Tensor]:
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise RuntimeError(f"activation should be relu/gelu, not {activation}")
        return _ACTIVATIONS[activation]
    return activation


def _xavier_zero(linear: nn.Linear, gain: float) -> None:
    nn.init.xavier_normal_(linear.weight, gain=gain)
    nn.init.zeros_(linear.bias)


class _PreNormLayer(nn.Module):
    """What the two old layers set up alike, in their creation order (seeded weights match):
    activation, dropout and ``norm1`` first; the feed-forward block last."""

    def __init__(self, d_model: int, dropout: float, activation: Activation, layer_norm_eps: float,
                 gamma_init: float, factory: dict) -> None:
        super().__init__()
        self.activation = _activation(activation)
        self.gamma_init = gamma_init
        self.dropout = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, **factory)

    @staticmethod
    def _feedforward_modules(d_model: int, dim_feedforward: int, layer_norm_eps: float, gamma_init: float,
                             factory: dict) -> tuple[nn.Linear, nn.LayerNorm, nn.Linear]:
        """``linear1``, the LayerNorm between the linears, ``linear2`` (MAGNETO-initialised)."""
        linear1 = nn.Linear(d_model, dim_feedforward, **factory)
        norm_mid = nn.LayerNorm(dim_feedforward, eps=layer_norm_eps, **factory)
        linear2 = nn.Linear(dim_feedforward, d_model, **factory)
        _xavier_zero(linear1, gamma_init)
        _xavier_zero(linear2, gamma_init)
        return linear1, norm_mid, linear2

    def _feedforward(self, x: Tensor, norm_in: nn.LayerNorm, norm_mid: nn.LayerNorm) -> Tensor:
        x = self.dropout(self.activation(self.linear1(norm_in(x))))
        return self.dropout(self.linear2(norm_mid(x)))


class DilatedTransformerEncoderLayer(_PreNormLayer):
    """Pre-norm encoder layer: dilated self-attention (with its MAGNETO norm), then a
    feed-forward block with a LayerNorm between its two linears."""

    def __init__(self, d_model: int, nhead: int, segment_lengths: Sequence[int], dilation_rates: Sequence[int],
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation: Activation = F.relu,
                 layer_norm_eps: float = 1e-5, gamma_init: float = 1.0, device=None, dtype=None) -> None:
        factory = {"device": device, "dtype": dtype}
        super().__init__(d_model, dropout, activation, layer_norm_eps, gamma_init, factory)
        self.self_attn = MultiheadDilatedAttention(d_model, nhead, dilation_rates, segment_lengths, dropout=dropout,
                                                   layer_norm=True, layer_norm_eps=layer_norm_eps,
                                                   gamma_init=gamma_init, **factory)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, **factory)
        self.linear1, self.norm3, self.linear2 = self._feedforward_modules(
            d_model, dim_feedforward, layer_norm_eps, gamma_init, factory)

    def forward(self, src: Tensor, is_causal: bool = False) -> Tensor:
        h = self.norm1(src)
        x = src + self.dropout(self.self_attn(h, h, h, is_causal=is_causal, need_weights=True)[0])
        return x + self._feedforward(x, self.norm2, self.norm3)


class DilatedTransformerDecoderLayer(_PreNormLayer):
    """Pre-norm decoder layer: dilated self-attention (no MAGNETO norm), dilated attention
    over ``memory`` (with it), then the feed-forward block."""

    def __init__(self, d_model: int, nhead: int, segment_lengths: Sequence[int], dilation_rates: Sequence[int],
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation: Activation = F.relu,
                 layer_norm_eps: float = 1e-5, gamma_init: float = 1.0, device=None, dtype=None) -> None:
        factory = {"device": device, "dtype": dtype}
        super().__init__(d_model, dropout, activation, layer_norm_eps, gamma_init, factory)
        # as in the old class: the self-attention keeps the default layer_norm_eps
        self.self_attn = MultiheadDilatedAttention(d_model, nhead, dilation_rates, segment_lengths, dropout=dropout,
                                                   layer_norm=False, gamma_init=gamma_init, **factory)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, **factory)
        self.multihead_attn = MultiheadDilatedAttention(d_model, nhead, dilation_rates, segment_lengths,
                                                        dropout=dropout, layer_norm_eps=layer_norm_eps,
                                                        gamma_init=gamma_init, **factory)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps, **factory)
        self.linear1, self.norm4, self.linear2 = self._feedforward_modules(
            d_model, dim_feedforward, layer_norm_eps, gamma_init, factory)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        h = self.norm1(tgt)
        x = tgt + self.dropout(self.self_attn(h, h, h, is_causal=tgt_is_causal, need_weights=True)[0])
        h = self.norm2(x)
        x = x + self.dropout(self.multihead_attn(h, memory, memory, is_causal=memory_is_causal,
                                                 need_weights=True)[0])
        return x + self._feedforward(x, self.norm3, self.norm4)


_LONGNET_SEGMENTS = (2048, 4096, 8192, 16384, 32768)
_LONGNET_RATES = (1, 2, 4, 6, 12)


class LongNet(nn.Module):
    """LongNet encoder-decoder (paper base sizes by default) of dilated transformer layers with
    DeepNet/MAGNETO gains; ``forward(x)`` runs the encoder on ``x`` and the decoder on ``x``
    against the encoder output, causal by default."""

    def __init__(self, d_model: int = 768, nhead: int = 12, num_encoder_layers: int = 12,
                 num_decoder_layers: int = 12, dim_feedforward: int = 3072,
                 segment_lengths: Sequence[int] = _LONGNET_SEGMENTS, dilation_rates: Sequence[int] = _LONGNET_RATES,
                 dropout: float = 0.0, activation: Activation = F.relu, layer_norm_eps: float = 1e-5,
                 device=None, dtype=None) -> None:
        super().__init__()
        encoder_gain = (math.log(3 * num_decoder_layers) * math.log(2 * num_encoder_layers) / 3) ** 0.5
        decoder_gain = math.log(3 * num_decoder_layers) ** 0.5
        shared = dict(d_model=d_model, nhead=nhead, segment_lengths=list(segment_lengths),
                      dilation_rates=list(dilation_rates), dim_feedforward=dim_feedforward, dropout=dropout,
                      activation=activation, layer_norm_eps=layer_norm_eps, device=device, dtype=dtype)
        # the torch containers deep-copy one layer: every layer starts from the same weights
        self.encoder = nn.TransformerEncoder(DilatedTransformerEncoderLayer(gamma_init=encoder_gain, **shared),
                                             num_encoder_layers, mask_check=False, enable_nested_tensor=False)
        self.decoder = nn.TransformerDecoder(DilatedTransformerDecoderLayer(gamma_init=decoder_gain, **shared),
                                             num_decoder_layers)

    def forward(self, x: Tensor, is_causal: bool = True) -> Tensor:
        memory = x
        for layer in self.encoder.layers:
            memory = layer(memory, is_causal=is_causal)
        if self.encoder.norm is not None:
            memory = self.encoder.norm(memory)
        tgt = x
        for layer in self.decoder.layers:
            tgt = layer(tgt, memory, tgt_is_causal=is_causal, memory_is_causal=is_causal)
        return tgt if self.decoder.norm is None else self.decoder.norm(tgt)


class LongNetLM(nn.Module):
    """Token embedding + xPos (``ringlib.models.XPos``, torchscale's definition: its ``scale``
    buffer loads as it is), LongNet, final LayerNorm and vocabulary projection."""

    def __init__(self, num_tokens: int, d_model: int = 768, nhead: int = 12, num_encoder_layers: int = 12,
                 num_decoder_layers: int = 12, dim_feedforward: int = 3072,
                 segment_lengths: Sequence[int] = _LONGNET_SEGMENTS, dilation_rates: Sequence[int] = _LONGNET_RATES,
                 dropout: float = 0.0, activation: Activation = F.relu, layer_norm_eps: float = 1e-5,
                 device=None, dtype=None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.token_embedding = nn.Embedding(num_tokens, d_model, **factory)
        self.pos_embedding = XPos(d_model, **factory)
        self.long_net = LongNet(d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward,
                                segment_lengths, dilation_rates, dropout, activation, layer_norm_eps, **factory)
        self.norm = nn.LayerNorm(d_model, eps=layer_norm_eps, **factory)
        self.out = nn.Linear(d_model, num_tokens, **factory)

    def _reset_parameters(self) -> None:
        nn.init.kaiming_normal_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, is_causal: bool = True) -> Tensor:
        h = self.token_embedding(x)
        h = self.long_net(h + self.pos_embedding(h), is_causal=is_causal)
        return self.out(self.norm(h))


__all__ = ["DilatedTransformerEncoderLayer", "DilatedTransformerDecoderLayer", "LongNet", "LongNetLM"]
