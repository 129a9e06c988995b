"""Transformer building blocks on :class:`ringlib.MultiheadAttention`, for any pattern.

Pre-norm layers with the sub-LayerNorms and initialisation of MAGNETO (Wang et al. 2022,
"Foundation Transformers"): a LayerNorm before each residual branch, LayerNorms of the
projected queries/keys and of the attention output inside each attention, and one between
the two linears of the feed-forward block; value, output and feed-forward projections start
Xavier-normal with gain ``gamma_init``. The attention pattern is a parameter (``ringlib.Dense()``,
``ringlib.Dilated(...)``, ``ringlib.BlockSparse(...)``), so the same layers give a dense
transformer, a LongNet (Ding et al. 2023) or a block-sparse model.

* :class:`TransformerEncoderLayer`: self-attention, then the feed-forward block.
* :class:`TransformerDecoderLayer`: self-attention, attention over an encoder's output, feed-forward.
* :class:`LongNet`: an encoder-decoder stack of those layers with MAGNETO's depth-dependent gains.
* :class:`LongNetLM`: token embedding + :class:`XPos`, LongNet, final LayerNorm, vocabulary projection.

Inputs are ``(batch, seq, d_model)`` (``batch_first=False``: ``(seq, batch, d_model)``).
Dropout acts in training mode only: in eval mode every forward is deterministic.
"""

from __future__ import annotations

import math
from typing import Callable, Union

import torch
import torch.nn.functional as F
from torch import nn

from ringlib.cores import AttentionCore
from ringlib.modules import MultiheadAttention
from ringlib.patterns import Pattern

Tensor = torch.Tensor
Activation = Union[str, Callable[[Tensor], Tensor]]

__all__ = ["FeedForward", "LongNet", "LongNetLM", "TransformerDecoderLayer", "TransformerEncoderLayer", "XPos"]

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "gelu": F.gelu}


# -- argument checks: each names the argument and the rule ----------------------------------------

def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def _positive_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _probability(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number in [0, 1), got {type(value).__name__}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return float(value)


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def _activation(activation: object) -> Callable[[Tensor], Tensor]:
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)} or a callable, got {activation!r}")
        return _ACTIVATIONS[activation]
    if not callable(activation):
        raise TypeError(f"activation must be a str or a callable, got {type(activation).__name__}")
    return activation


def _check_model_dims(d_model: object, nhead: object, pattern: object) -> None:
    _positive_int("d_model", d_model)
    _positive_int("nhead", nhead)
    if d_model % nhead:  # type: ignore[operator]
        raise ValueError(f"d_model ({d_model}) must be divisible by nhead ({nhead})")
    if not isinstance(pattern, (Pattern, AttentionCore)):
        raise TypeError(f"pattern must be a ringlib pattern (ringlib.Dense(), ringlib.Dilated(...), "
                        f"ringlib.BlockSparse(...)) or attention core, got {type(pattern).__name__}")


def _check_sequence(name: str, x: object, d_model: int) -> None:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    if x.dim() != 3 or x.shape[-1] != d_model:
        raise ValueError(f"{name} must have shape (batch, seq, {d_model}) (or (seq, batch, {d_model}) with "
                         f"batch_first=False), got {tuple(x.shape)}")


def _xavier(linear: nn.Linear, gain: float) -> None:
    nn.init.xavier_normal_(linear.weight, gain=gain)
    if linear.bias is not None:
        nn.init.zeros_(linear.bias)


# -- blocks ---------------------------------------------------------------------------------------

def _attention(d_model: int, nhead: int, pattern: Pattern | AttentionCore, *, norms: bool, dropout: float, layer_norm_eps: float,
               gamma_init: float, bias: bool, batch_first: bool, factory: dict) -> MultiheadAttention:
    """A MAGNETO attention: q/k gain 1, v/out gain ``gamma_init``; ``norms``: the sub-LayerNorms."""
    attn = MultiheadAttention(d_model, nhead, pattern, bias=bias, dropout=dropout, qk_norm=norms, out_norm=norms,
                              norm_eps=layer_norm_eps, batch_first=batch_first, **factory)
    for linear, gain in ((attn.q_proj, 1.0), (attn.k_proj, 1.0), (attn.v_proj, gamma_init),
                         (attn.out_proj, gamma_init)):
        _xavier(linear, gain)
    return attn


class FeedForward(nn.Module):
    """``linear2(sub_norm(dropout(activation(linear1(x)))))``, then dropout: the position-wise
    block of a MAGNETO layer. ``sub_norm``, a LayerNorm over the ``dim_feedforward`` hidden
    features, keeps the scale of the residual branch independent of depth."""

    def __init__(self, d_model: int, dim_feedforward: int, *, activation: Activation = "relu", dropout: float = 0.0,
                 layer_norm_eps: float = 1e-5, gamma_init: float = 1.0, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        _positive_int("d_model", d_model)
        _positive_int("dim_feedforward", dim_feedforward)
        factory = {"device": device, "dtype": dtype}
        self.activation = _activation(activation)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=_flag("bias", bias), **factory)
        self.sub_norm = nn.LayerNorm(dim_feedforward, eps=_positive_number("layer_norm_eps", layer_norm_eps), **factory)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.dropout = nn.Dropout(_probability("dropout", dropout))
        gain = _positive_number("gamma_init", gamma_init)
        _xavier(self.linear1, gain)
        _xavier(self.linear2, gain)

    def forward(self, x: Tensor) -> Tensor:
        hidden = self.dropout(self.activation(self.linear1(x)))
        return self.dropout(self.linear2(self.sub_norm(hidden)))


class TransformerEncoderLayer(nn.Module):
    """Pre-norm encoder layer: ``x + self_attn(self_attn_norm(x))``, then
    ``x + feedforward(feedforward_norm(x))``.

    ``pattern``: the attention pattern of ``self_attn`` (a :class:`ringlib.MultiheadAttention`).
    ``self_attn_norms``: its MAGNETO sub-LayerNorms (``q_norm``, ``k_norm``, ``out_norm``).
    ``dropout`` acts on the attention probabilities, on the residual branches and inside the
    feed-forward block (training mode only). ``gamma_init``: the MAGNETO initialisation gain of
    the value, output and feed-forward projections.
    """

    def __init__(self, d_model: int, nhead: int, pattern: Pattern | AttentionCore, *, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Activation = "relu", layer_norm_eps: float = 1e-5,
                 gamma_init: float = 1.0, self_attn_norms: bool = True, bias: bool = True, batch_first: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        _check_model_dims(d_model, nhead, pattern)
        factory = {"device": device, "dtype": dtype}
        eps, gain = _positive_number("layer_norm_eps", layer_norm_eps), _positive_number("gamma_init", gamma_init)
        dropout = _probability("dropout", dropout)
        self.d_model = d_model
        self.self_attn_norm = nn.LayerNorm(d_model, eps=eps, **factory)
        self.self_attn = _attention(d_model, nhead, pattern, norms=_flag("self_attn_norms", self_attn_norms),
                                    dropout=dropout, layer_norm_eps=eps, gamma_init=gain, bias=_flag("bias", bias),
                                    batch_first=_flag("batch_first", batch_first), factory=factory)
        self.feedforward_norm = nn.LayerNorm(d_model, eps=eps, **factory)
        self.feedforward = FeedForward(d_model, dim_feedforward, activation=activation, dropout=dropout,
                                       layer_norm_eps=eps, gamma_init=gain, bias=bias, **factory)
        self.dropout = nn.Dropout(dropout)

    def forward(self, src: Tensor, *, is_causal: bool = False) -> Tensor:
        _check_sequence("src", src, self.d_model)
        x = src + self.dropout(self.self_attn(self.self_attn_norm(src), is_causal=_flag("is_causal", is_causal)))
        return x + self.feedforward(self.feedforward_norm(x))


class TransformerDecoderLayer(nn.Module):
    """Pre-norm decoder layer: self-attention over ``tgt``, attention from ``tgt`` to
    ``memory`` (an encoder's output), then the feed-forward block, each as a residual branch
    behind its own LayerNorm (``self_attn_norm``, ``cross_attn_norm``, ``feedforward_norm``).

    Both attentions use ``pattern``, which relates query and key positions of one sequence:
    ``memory`` has the sequence length of ``tgt``. ``self_attn_norms`` / ``cross_attn_norms``:
    the MAGNETO sub-LayerNorms inside each attention. Other arguments as in
    :class:`TransformerEncoderLayer`.
    """

    def __init__(self, d_model: int, nhead: int, pattern: Pattern | AttentionCore, *, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Activation = "relu", layer_norm_eps: float = 1e-5,
                 gamma_init: float = 1.0, self_attn_norms: bool = True, cross_attn_norms: bool = True,
                 bias: bool = True, batch_first: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        _check_model_dims(d_model, nhead, pattern)
        factory = {"device": device, "dtype": dtype}
        eps, gain = _positive_number("layer_norm_eps", layer_norm_eps), _positive_number("gamma_init", gamma_init)
        dropout = _probability("dropout", dropout)
        shared = dict(dropout=dropout, layer_norm_eps=eps, gamma_init=gain, bias=_flag("bias", bias),
                      batch_first=_flag("batch_first", batch_first), factory=factory)
        self.d_model = d_model
        self.self_attn_norm = nn.LayerNorm(d_model, eps=eps, **factory)
        self.self_attn = _attention(d_model, nhead, pattern, norms=_flag("self_attn_norms", self_attn_norms), **shared)
        self.cross_attn_norm = nn.LayerNorm(d_model, eps=eps, **factory)
        self.cross_attn = _attention(d_model, nhead, pattern, norms=_flag("cross_attn_norms", cross_attn_norms),
                                     **shared)
        self.feedforward_norm = nn.LayerNorm(d_model, eps=eps, **factory)
        self.feedforward = FeedForward(d_model, dim_feedforward, activation=activation, dropout=dropout,
                                       layer_norm_eps=eps, gamma_init=gain, bias=bias, **factory)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tgt: Tensor, memory: Tensor, *, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        _check_sequence("tgt", tgt, self.d_model)
        _check_sequence("memory", memory, self.d_model)
        if memory.shape != tgt.shape:
            raise ValueError(f"memory must have the shape of tgt (the pattern relates positions of one sequence), "
                             f"got {tuple(memory.shape)} and {tuple(tgt.shape)}")
        x = tgt + self.dropout(self.self_attn(self.self_attn_norm(tgt),
                                              is_causal=_flag("tgt_is_causal", tgt_is_causal)))
        x = x + self.dropout(self.cross_attn(self.cross_attn_norm(x), memory, memory,
                                             is_causal=_flag("memory_is_causal", memory_is_causal)))
        return x + self.feedforward(self.feedforward_norm(x))


class LongNet(nn.Module):
    """Encoder-decoder of ``num_encoder_layers`` :class:`TransformerEncoderLayer` and
    ``num_decoder_layers`` :class:`TransformerDecoderLayer`, initialised with MAGNETO's gains
    for an encoder-decoder of that depth (encoder ``sqrt(log(3N) log(2M) / 3)``, decoder
    ``sqrt(log(3N))``, M encoder and N decoder layers).

    ``forward(x)`` encodes ``x`` and decodes ``x`` against the encoding (a language model's
    use: ``is_causal`` applies to every attention, causal by default). The paper's base model
    is ``d_model=768, nhead=12``, 12 + 12 layers, ``dim_feedforward=3072`` with
    ``ringlib.Dilated([2048, 4096, 8192, 16384, 32768], [1, 2, 4, 6, 12])``.
    ``decoder_self_attn_norms``: the sub-LayerNorms inside the decoder's self-attention.
    """

    def __init__(self, d_model: int, nhead: int, pattern: Pattern | AttentionCore, *, num_encoder_layers: int = 12,
                 num_decoder_layers: int = 12, dim_feedforward: int = 3072, dropout: float = 0.0,
                 activation: Activation = "relu", layer_norm_eps: float = 1e-5, decoder_self_attn_norms: bool = True,
                 bias: bool = True, batch_first: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        encoders = _positive_int("num_encoder_layers", num_encoder_layers)
        decoders = _positive_int("num_decoder_layers", num_decoder_layers)
        encoder_gain = math.sqrt(math.log(3 * decoders) * math.log(2 * encoders) / 3)
        decoder_gain = math.sqrt(math.log(3 * decoders))
        shared = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                      layer_norm_eps=layer_norm_eps, bias=bias, batch_first=batch_first, device=device, dtype=dtype)
        self.encoder_layers = nn.ModuleList(
            TransformerEncoderLayer(d_model, nhead, pattern, gamma_init=encoder_gain, **shared)
            for _ in range(encoders))
        self.decoder_layers = nn.ModuleList(
            TransformerDecoderLayer(d_model, nhead, pattern, gamma_init=decoder_gain,
                                    self_attn_norms=decoder_self_attn_norms, **shared)
            for _ in range(decoders))

    def forward(self, x: Tensor, *, is_causal: bool = True) -> Tensor:
        memory = x
        for layer in self.encoder_layers:
            memory = layer(memory, is_causal=is_causal)
        out = x
        for layer in self.decoder_layers:
            out = layer(out, memory, tgt_is_causal=is_causal, memory_is_causal=is_causal)
        return out


class XPos(nn.Module):
    """xPos (Sun et al. 2022, "A Length-Extrapolatable Transformer") on ``(batch, seq, dim)``.

    Feature pair ``(2i, 2i + 1)`` at position ``n`` (from 0) is rotated by ``n * 10000 ** (-2i / dim)``
    and scaled by ``scale[i] ** (m / scale_base)``, ``scale[i] = (2i + 0.4 dim) / (1.4 dim)``, with
    ``m = n - ceil(seq / 2)`` the position counted from the middle of the sequence.
    ``scale`` is a buffer (saved with the model). Angles and scales are computed in at least float32.
    """

    def __init__(self, dim: int, *, scale_base: float = 512, device=None, dtype=None) -> None:
        super().__init__()
        if _positive_int("dim", dim) % 2:
            raise ValueError(f"dim must be even (features rotate in pairs), got {dim}")
        self.dim = dim
        self.scale_base = _positive_number("scale_base", scale_base)
        dtype = dtype or torch.get_default_dtype()
        pairs = torch.arange(0, dim, 2, device=device, dtype=torch.promote_types(dtype, torch.float32))
        self.register_buffer("scale", ((pairs + 0.4 * dim) / (1.4 * dim)).to(dtype))

    def forward(self, x: Tensor) -> Tensor:
        _check_sequence("x", x, self.dim)
        n = x.shape[1]
        compute = torch.promote_types(self.scale.dtype, torch.float32)
        start = -((n + 1) // 2)  # the middle position is 0 (for odd n, the one after it)
        centred = torch.arange(start, start + n, device=x.device).to(compute)
        scale = self.scale.to(compute) ** (centred / self.scale_base)[:, None]  # (seq, dim / 2)
        half = self.dim // 2
        frequency = 1.0 / 10000 ** (torch.arange(half, device=x.device, dtype=compute) / half)
        angle = torch.arange(n, device=x.device, dtype=compute)[:, None] * frequency[None, :]
        cos = (torch.cos(angle) * scale).repeat_interleave(2, dim=-1).to(x.dtype)
        sin = (torch.sin(angle) * scale).repeat_interleave(2, dim=-1).to(x.dtype)
        rotated = torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)  # pair (a, b) -> (-b, a)
        return x * cos + rotated * sin

    def extra_repr(self) -> str:
        return f"dim={self.dim}, scale_base={self.scale_base:g}"


class LongNetLM(nn.Module):
    """Language model: ``lm_head(final_norm(long_net(h + xpos(h))))`` with ``h`` the token
    embeddings of ``tokens`` (``(batch, seq)`` integers in ``[0, vocab_size)``); returns
    ``(batch, seq, vocab_size)`` logits. ``xpos`` (:class:`XPos` over ``d_model``) is added to
    the embeddings. Other arguments as in :class:`LongNet`.
    """

    def __init__(self, vocab_size: int, d_model: int, nhead: int, pattern: Pattern | AttentionCore, *, num_encoder_layers: int = 12,
                 num_decoder_layers: int = 12, dim_feedforward: int = 3072, dropout: float = 0.0,
                 activation: Activation = "relu", layer_norm_eps: float = 1e-5, decoder_self_attn_norms: bool = True,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.vocab_size = _positive_int("vocab_size", vocab_size)
        _check_model_dims(d_model, nhead, pattern)
        factory = {"device": device, "dtype": dtype}
        self.token_embedding = nn.Embedding(vocab_size, d_model, **factory)
        self.xpos = XPos(d_model, **factory)
        self.long_net = LongNet(d_model, nhead, pattern, num_encoder_layers=num_encoder_layers,
                                num_decoder_layers=num_decoder_layers, dim_feedforward=dim_feedforward,
                                dropout=dropout, activation=activation, layer_norm_eps=layer_norm_eps,
                                decoder_self_attn_norms=decoder_self_attn_norms, bias=bias, **factory)
        self.final_norm = nn.LayerNorm(d_model, eps=layer_norm_eps, **factory)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=bias, **factory)

    def forward(self, tokens: Tensor, *, is_causal: bool = True) -> Tensor:
        if not isinstance(tokens, Tensor) or tokens.is_floating_point() or tokens.is_complex() \
                or tokens.dtype == torch.bool:
            raise TypeError(f"tokens must be an integer tensor, got {getattr(tokens, 'dtype', type(tokens).__name__)}")
        if tokens.dim() != 2:
            raise ValueError(f"tokens must have shape (batch, seq), got {tuple(tokens.shape)}")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size):
            raise ValueError(f"tokens must lie in [0, vocab_size={self.vocab_size}), got values in "
                             f"[{int(tokens.min())}, {int(tokens.max())}]")
        h = self.token_embedding(tokens)
        h = self.long_net(h + self.xpos(h), is_causal=is_causal)
        return self.lm_head(self.final_norm(h))
