"""Facts that several rows share, written once: forward conventions and measured divergences."""

from __future__ import annotations

from ringlib_legacy.schema import Divergence, KeyMap, Split

#: Why the rewrite of an x -> x class is not automatic.
X_FORWARD = (
    "the old forward also took total_seq_len/need_weights/already_split and returned "
    "(out, None) with need_weights=True; the canonical forward is forward(x, *, is_causal)"
)
#: Why the rewrite of a q, k, v class is not automatic.
QKV_FORWARD = (
    "the old forward took return_attention_weights and returned (out, info); the canonical "
    "forward is forward(q, k, v, *, is_causal)"
)
#: The replacement of the old ring communication helpers.
RING_PASS = "torch.distributed.batch_isend_irecv (ringlib.attention(..., group=...) does the ring passes itself)"
#: The replacement of the old functional ring attention.
DENSE_FUNCTION = "ringlib.attention(q, k, v, ringlib.Dense(), group=...) with (B, L, H, D) tensors"

NO_BACKWARD = Divergence(
    what="backward: the old class always raised `RuntimeError: one of the variables needed for gradient "
    "computation has been modified by an inplace operation`; the shim's backward works",
    measured="old: no gradient at all",
)
DTYPE_CAST = Divergence(
    what="fp32 input with half-precision parameters raised a dtype error; the shim casts the input to the "
    "parameter dtype",
    measured="old: RuntimeError",
)
REGIONS_INTENDED = Divergence(
    what="--semantics intended uses LongNet dilated attention (ringlib.Dilated) instead of REGIONS",
    measured="REGIONS vs the old DilatedAttention 0.184-0.188 max-abs (L=1024, [256,512]/[1,2], H=8); REGIONS "
    "leaves positions after the last region at zero (25% of outputs at L=1024, [256,512])",
    applies="intended",
)
FIRST_SEGMENT_INTENDED = Divergence(
    what="--semantics intended uses LongNet dilated attention (ringlib.Dilated) instead of FIRST_SEGMENT",
    measured="FIRST_SEGMENT leaves positions outside every index set at zero (384 of 1024 at L=1024, "
    "[256,512]/[1,2]) and halves positions selected by one of two pairs",
    applies="intended",
)
BLOCK_SUM_INTENDED = Divergence(
    what="--semantics intended uses one softmax per query row over its active blocks "
    "(BlockSparse normalization='softmax') instead of summing per-block softmaxes",
    measured="vs row-softmax masked attention: 0.99 local_window, 1.90 dilated_sparse, 1.87 global_local "
    "(seq 1024, H=8, D=32, bs 128); golden config (dilated_sparse, bs 64) 2.01",
    applies="intended",
)

# How old checkpoints become the replacement's (``KeyMap``; measured by tests/legacy/test_checkpoints.py).
#: q_proj/k_proj/v_proj/out_proj as they are: ``ringlib.MultiheadAttention`` has the same four projections.
SEPARATE_PROJECTIONS = KeyMap()
#: The old base MultiheadDilatedAttention: its q_ln normalised q and, again, the attention output.
MAGNETO_NORMS = KeyMap(copy={"q_ln.": "out_norm."}, rename={"q_ln.": "q_norm.", "k_ln.": "k_norm."})
#: The shim's RingDistributedDilatedAttention (0.2 never built one): rows of one fused projection on
#: separate query/key/value inputs, q_ln after attention, k_ln never used.
CORE_PROJECTIONS = KeyMap(
    split=(Split("attention_core.qkv_proj.", ("q_proj.", "k_proj.", "v_proj.")),),
    drop=("attention_core.k_ln.",),
    rename={"attention_core.q_ln.": "out_norm.", "attention_core.": ""},
    origin="shim",
)
#: The old transformer layers -> ringlib.models.TransformerEncoderLayer / TransformerDecoderLayer, keys
#: relative to one layer: descriptive submodule names, the feed-forward block as one submodule, and the
#: MAGNETO_NORMS of each attention (the decoder's self-attention had no LayerNorm).
_ENCODER_LAYER_RENAME = {
    "norm1.": "self_attn_norm.",
    "self_attn.q_ln.": "self_attn.q_norm.",
    "self_attn.k_ln.": "self_attn.k_norm.",
    "norm2.": "feedforward_norm.",
    "linear1.": "feedforward.linear1.",
    "norm3.": "feedforward.sub_norm.",
    "linear2.": "feedforward.linear2.",
}
_ENCODER_LAYER_COPY = {"self_attn.q_ln.": "self_attn.out_norm."}
_DECODER_LAYER_RENAME = {
    "norm1.": "self_attn_norm.",
    "norm2.": "cross_attn_norm.",
    "multihead_attn.q_ln.": "cross_attn.q_norm.",
    "multihead_attn.k_ln.": "cross_attn.k_norm.",
    "multihead_attn.": "cross_attn.",
    "norm3.": "feedforward_norm.",
    "linear1.": "feedforward.linear1.",
    "norm4.": "feedforward.sub_norm.",
    "linear2.": "feedforward.linear2.",
}
_DECODER_LAYER_COPY = {"multihead_attn.q_ln.": "cross_attn.out_norm."}


def _stacked(old: str, new: str, rules: dict[str, str]) -> dict[str, str]:
    """``rules`` of one layer for every layer of a stack (``old``/``new``: the stack's prefixes with
    ``*`` for the layer index), then the stack's own rename for the keys the layer keeps."""
    return {**{old + k: new + v for k, v in rules.items()}, old: new}


ENCODER_LAYER = KeyMap(rename=_ENCODER_LAYER_RENAME, copy=_ENCODER_LAYER_COPY)
DECODER_LAYER = KeyMap(rename=_DECODER_LAYER_RENAME, copy=_DECODER_LAYER_COPY)


def _long_net(old: str, new: str) -> dict[str, dict[str, str]]:
    """The old LongNet's torch Transformer containers (``encoder.layers.<i>``) under ``old`` ->
    ringlib.models.LongNet's ``encoder_layers.<i>`` / ``decoder_layers.<i>`` under ``new``."""
    encoder = (f"{old}encoder.layers.*.", f"{new}encoder_layers.*.")
    decoder = (f"{old}decoder.layers.*.", f"{new}decoder_layers.*.")
    return {
        "rename": {**_stacked(*encoder, _ENCODER_LAYER_RENAME), **_stacked(*decoder, _DECODER_LAYER_RENAME)},
        "copy": {**{encoder[0] + k: encoder[1] + v for k, v in _ENCODER_LAYER_COPY.items()},
                 **{decoder[0] + k: decoder[1] + v for k, v in _DECODER_LAYER_COPY.items()}},
    }


LONG_NET = KeyMap(**_long_net("", ""))
#: LongNetLM: the LongNet under ``long_net.``, xPos's ``scale`` buffer, the final norm and the output head.
LONG_NET_LM = KeyMap(
    rename={**_long_net("long_net.", "long_net.")["rename"], "pos_embedding.": "xpos.", "norm.": "final_norm.",
            "out.": "lm_head."},
    copy=_long_net("long_net.", "long_net.")["copy"],
)
#: Same keys; the rewrite asks for the old batch-shared threshold selection, so the numbers are equal.
ADAPTIVE_SELECTION = KeyMap()

#: The old head-axis computation of the "improved" classes (a profile several rows share).
HEAD_AXIS = (
    "HEAD_AXIS: the heads of group i attend to each other at each selected row "
    "(rows i % r, i % r + r, ... of every segment), sum / G"
)
#: The canonical core of HEAD_AXIS (an attention core: no mask pattern mixes heads at one position).
HEAD_AXIS_CORE = "ringlib.compat.HeadAxis(segment_lengths, dilation_rates)"
#: The canonical core of the classes that chose their segments at run time.
SEGMENTS_PER_CALL = (
    "ringlib.compat.SegmentsPerCall(ringlib.compat.FitSegments(min_segment_size, max_segment_size)) (segments "
    "chosen at the call from the sequence length and the free device memory, HEAD_AXIS inside them)"
)
#: The old base classes applied dropout to the attention probabilities and again to the output.
DOUBLE_DROPOUT = Divergence(
    what="training mode: the old class applied dropout to the attention probabilities and again to the output; "
    "the rewrite applies it once",
    measured="eval identical; training differs by the second dropout mask",
)
#: Where the segment choice reads the free memory.
CHOICE_DEVICE = Divergence(
    what="the segment choice reads the free memory of the input's device (the old class read the current CUDA "
    "device, also for CPU inputs on a CUDA machine) and is not cached per (seq_len, batch, heads)",
    measured="CPU: identical (no device memory: one segment of min(min_segment_size, seq_len)); a GPU choice "
    "depends on the free memory at the call in both",
)
#: Why the rewrite of an old model is rewritten with a note.
MODEL_FORWARD = (
    "the canonical forward takes is_causal / tgt_is_causal / memory_is_causal by keyword only; old checkpoints "
    "load through ringlib_legacy.checkpoints.load_legacy_state_dict (submodules have descriptive names)"
)

MASK_IGNORED = Divergence(
    what="attention_mask / attn_mask / key_padding_mask: the old code validated and then ignored them silently; "
    "the shim ignores them with a UserWarning",
    measured="identical outputs; one warning per call",
)
IMPROVED_INTENDED = Divergence(
    what="--semantics intended attends over the selected rows of each segment (ringlib.Dilated(..., "
    "mixing='head_groups'), what the old docstring describes) instead of across the heads of a group",
    measured="old vs intended on the recorded config (L=64, [16, 32]/[1, 2], H=4, D=16): 1.6 max-abs",
    applies="intended",
)
FACTORY_NEVER_RAN = Divergence(
    what="the old code raised on every call (ValueError: Unknown attention type 'improved'. Available types: []); "
    "the shim builds what its docstring describes",
    measured="old: ValueError",
)
HEAD_PARALLEL_NEVER_RAN = Divergence(
    what="the old code raised on every call (TypeError: unexpected keyword argument 'use_xformers'); "
    "the shim builds what its docstring describes",
    measured="old: TypeError",
)
#: The old Hilbert kernel modules: bias-free projections around a CUDA-only Triton kernel.
KERNEL_MODULE = KeyMap(
    loads=False,
    reason="the replacement is the function ringlib.attention on Hilbert-gathered tensors (no parameters), and the "
    "old forward was a CUDA-only Triton kernel that did not compute softmax attention, so there are no old numbers "
    "to keep: keep the shim class to reuse its qkv_proj/out_proj",
)
