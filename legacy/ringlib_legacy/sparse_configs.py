"""Block-sparse config objects as data, for ``ringlib migrate`` (plain keyword rows).

* how an old ``SparsePatternConfig`` becomes a ``ringlib.BlockSparse`` value (one row per
  ``pattern_type``), and which old constructors/factories take one;
* the presets of ``get_block_sparse_preset`` as config values.

Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from ringlib_legacy.schema import Arg, Param


@dataclass(frozen=True)
class ConfigLayout:
    """One value of a config's ``pattern_type`` field: the named ``ringlib.BlockSparse``
    layout it builds, and the layout keywords taken from the config's fields."""

    config: str  # key of the config entry
    value: str  # the pattern_type value
    layout: str  # name of the ringlib.blocksparse layout
    args: tuple[Arg, ...] = ()


@dataclass(frozen=True)
class ConfigConsumer:
    """An old constructor or factory that builds block-sparse attention from a config.

    ``params`` is its full signature (for binding the user's arguments); ``config_param``
    receives the config object; the canonical code is ``target(<pattern>)`` where the
    pattern is ``ringlib.BlockSparse(layout, block_size=..., <pattern_args>)``.
    ``requires``: literal values some parameters must have for this route (else: by hand).
    ``build_config``: parameters that, without a config, build one (field <- parameter).
    """

    key: str
    config_param: str
    params: tuple[Param, ...]
    target: str = "ringlib.DilatedAttention"
    pattern_args: tuple[Arg, ...] = (Arg("normalization", value="'per_block_sum'"),)
    requires: tuple[tuple[str, tuple[str, ...]], ...] = ()
    build_config: tuple[tuple[str, str, str], ...] = ()  # (field, parameter, source if None)
    reason: str = ""  # shown as "check the uses" note


@dataclass(frozen=True)
class Preset:
    """A named preset of ``get_block_sparse_preset``: the factory ``variant`` it selects, the
    ``SparsePatternConfig`` / ``AdaptiveConfig`` fields it sets and its other factory
    ``arguments`` (all values as Python source). The shim builds its presets from these rows;
    the codemod rewrites the "base" ones."""

    name: str
    config: tuple[tuple[str, str], ...] = ()
    variant: str = "base"
    adaptive_config: tuple[tuple[str, str], ...] = ()
    arguments: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class NotExact:
    """An entry whose canonical rewrite does not build what the shim builds."""

    key: str
    reason: str


_QKV = ("the old forward took return_attention_weights and returned (out, info) with it; the canonical "
        "forward is forward(q, k, v, *, is_causal)")
_VALIDATED = "validated only, never changed a pattern"

SPARSE_CONFIG_PARAMS: tuple[Param, ...] = (
    Param(name="pattern_type", default="local_window"),
    Param(name="block_size", default=64),
    Param(name="sparsity_ratio", default=0.1, role="ignored", note=_VALIDATED),
    Param(name="window_size", default=256),
    Param(name="global_tokens", default=1),
    Param(name="dilation_rates", default=None),
)

CONFIG_LAYOUTS: tuple[ConfigLayout, ...] = (
    ConfigLayout(config="SparsePatternConfig", value="local_window", layout="local_window",
                 args=(Arg("window_size", source="window_size"),)),
    ConfigLayout(config="SparsePatternConfig", value="dilated_sparse", layout="dilated_sparse",
                 args=(Arg("dilation_rates", source="dilation_rates", omit_if_default=False),)),
    ConfigLayout(config="SparsePatternConfig", value="global_local", layout="global_local",
                 args=(Arg("global_blocks", source="global_tokens"), Arg("window_size", source="window_size"))),
)

#: keyword arguments the old block-sparse constructor read from ``**kwargs``
_BSR_KWARGS = (
    Param(name="sparsity_config", default=None, role="unsupported", kind="keyword_only",
          note="overrides sparse_config"),
    Param(name="sparsity_ratio", default=None, role="ignored", kind="keyword_only", note=_VALIDATED),
    Param(name="dropout", default=0.0, role="ignored", kind="keyword_only", note="validated, never applied"),
    Param(name="ring_size", default=None, role="ignored", kind="keyword_only"),
    Param(name="use_gradient_checkpointing", default=None, role="ignored", kind="keyword_only"),
    Param(name="enable_memory_pool", default=None, role="ignored", kind="keyword_only"),
    Param(name="device", default=None, role="ignored", kind="keyword_only"),
    Param(name="dtype", default=None, role="ignored", kind="keyword_only"),
    Param(name="kwargs", role="ignored", kind="var_keyword", note="the old class ignored unknown keywords"),
)
_LISTS = (
    Param(name="segment_lengths", role="ignored", note="validated only"),
    Param(name="dilation_rates", role="ignored", note="validated only"),
)

CONFIG_CONSUMERS: tuple[ConfigConsumer, ...] = (
    ConfigConsumer(
        key="BlockSparseRingDilatedAttention",
        config_param="sparse_config",
        params=(
            *_LISTS,
            Param(name="sparse_config", default=None),
            Param(name="enable_batched_ops", default=True, role="ignored"),
            Param(name="pattern_cache_size", default=100, role="ignored"),
            *_BSR_KWARGS,
        ),
        reason=_QKV,
    ),
    ConfigConsumer(
        key="BlockSparseRingDilatedAttentionHilbertPostPattern",
        config_param="sparse_config",
        params=(
            *_LISTS,
            Param(name="sparse_config"),
            Param(name="use_post_pattern_optimization", default=True, role="ignored"),
            Param(name="cache_orderings", default=True, role="ignored"),
            *_BSR_KWARGS,
        ),
        pattern_args=(Arg("normalization", value="'per_block_sum'"), Arg("partial_tail", value="'zero'")),
        reason=_QKV,
    ),
    ConfigConsumer(
        key="create_block_sparse_attention",
        config_param="sparse_config",
        params=(
            Param(name="variant", default="auto"),
            Param(name="segment_lengths", default=None, role="ignored", note="validated only"),
            Param(name="dilation_rates", default=None, role="ignored", note="validated only"),
            Param(name="sparse_config", default=None),
            Param(name="sparsity_ratio", default=None, role="ignored", note=_VALIDATED),
            Param(name="block_size", default=None),
            Param(name="adaptive_config", default=None, role="unsupported", note="selects the adaptive variant"),
            Param(name="distributed_config", default=None, role="unsupported",
                  note="selects the distributed variant"),
            Param(name="embed_dim", default=None, role="unsupported", note="selects the multihead variant"),
            Param(name="num_heads", default=None, role="unsupported", note="selects the multihead variant"),
            *_BSR_KWARGS,
        ),
        requires=(("variant", ("'auto'", "'base'")),),
        build_config=(("block_size", "block_size", "64"),),
        reason=_QKV,
    ),
)

#: the presets of ``get_block_sparse_preset``, in the old order (its error message lists them so)
PRESETS: tuple[Preset, ...] = (
    Preset(
        name="local",
        config=(("pattern_type", "'local_window'"), ("sparsity_ratio", "0.05"), ("window_size", "256"),
                ("block_size", "64")),
    ),
    Preset(
        name="dilated",
        config=(("pattern_type", "'dilated_sparse'"), ("sparsity_ratio", "0.1"), ("dilation_rates", "[1, 2, 4, 8]"),
                ("block_size", "64")),
    ),
    Preset(
        name="global_local",
        config=(("pattern_type", "'global_local'"), ("sparsity_ratio", "0.1"), ("global_tokens", "64"),
                ("window_size", "256"), ("block_size", "64")),
    ),
    Preset(
        name="adaptive_standard",
        variant="adaptive",
        adaptive_config=(("base_sparsity", "0.9"), ("temperature", "1.0"), ("learnable_temperature", "True")),
    ),
    Preset(
        name="ultra_sparse",
        config=(("pattern_type", "'dilated_sparse'"), ("sparsity_ratio", "0.01"), ("block_size", "128")),
        arguments=(("segment_lengths", "[4096, 8192, 16384]"), ("dilation_rates", "[1, 4, 16]")),
    ),
    Preset(
        name="hilbert_standard",
        variant="hilbert",
        arguments=(("hilbert_block_level", "True"), ("hilbert_within_blocks", "False")),
    ),
    Preset(
        name="hilbert_ultra",
        variant="hilbert",
        arguments=(("hilbert_block_level", "True"), ("hilbert_within_blocks", "True")),
    ),
)
#: ``get_block_sparse_preset(name, **overrides)``: overrides that do not change the result
PRESET_PARAMS: tuple[Param, ...] = (
    Param(name="preset_name"),
    Param(name="segment_lengths", default=None, role="ignored", kind="keyword_only", note="validated only"),
    Param(name="dilation_rates", default=None, role="ignored", kind="keyword_only", note="validated only"),
    *_BSR_KWARGS,
)
